import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { queryAudit, AUDIT_FIELDS, type AuditEntry } from "../../audit/query.js";
import { AuditQueryFields } from "./common.js";

function csvCell(v: unknown): string {
  const text = v === null || v === undefined ? "" : v instanceof Date ? v.toISOString() : typeof v === "object" ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function auditCsv(entries: AuditEntry[]): string {
  const lines = [AUDIT_FIELDS.join(",")];
  for (const e of entries) lines.push(AUDIT_FIELDS.map((f) => csvCell(e[f])).join(","));
  return lines.join("\r\n") + "\r\n";
}

export function auditJson(entries: AuditEntry[]): string {
  return JSON.stringify(
    entries.map((e) => ({ ...e, timestamp: e.timestamp.toISOString() })),
    null,
    2,
  );
}

export const auditExport = defineMethod({
  name: "audit.export",
  description: "Exports audit entries as CSV or JSON into the data directory (a job); returns the report's path.",
  args: [arg("data", z.strictObject({ export_format: z.enum(["CSV", "JSON"]).default("JSON"), ...AuditQueryFields }), () => ({}))],
  returns: z.string().describe("Path of the report written."),
  roles: ["SYSTEM_AUDIT_READ"],
  job: { description: (data) => `Exporting audit log as ${data.export_format}` },
  handler: async (ctx, data) => {
    const options = { ...data["query-options"], count: false, get: false };
    const entries =
      data.services[0] === "MIDDLEWARE"
        ? ((await queryAudit(
            ctx.app.store.db,
            ctx.app.store.dialect,
            data["query-filters"],
            options,
            {
              filters: "data.query-filters",
              options: "data.query-options",
            },
            ctx.app.registry,
          )) as AuditEntry[])
        : [];
    ctx.job?.setProgress(50, `Writing ${entries.length} entries`);
    const dir = path.join(ctx.app.config.dataDir, "audit-reports");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const ext = data.export_format === "CSV" ? "csv" : "json";
    const file = path.join(dir, `audit-${new Date().toISOString().replace(/[:.]/g, "-")}-${ctx.job?.id ?? 0}.${ext}`);
    writeFileSync(file, data.export_format === "CSV" ? auditCsv(entries) : auditJson(entries), { mode: 0o600 });
    return file;
  },
});
