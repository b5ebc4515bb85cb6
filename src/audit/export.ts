// audit.export: the entries audit.query would list, written as a CSV or JSON report into the data
// directory (owner-only), as a job.

import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { foldPendingAudit } from "./audit.js";
import { AUDIT_FIELDS, auditQueryFields, queryAudit, type AuditEntry, type AuditReadContext } from "./query.js";

export const auditExportSchema = z.strictObject({ export_format: z.enum(["CSV", "JSON"]).default("JSON"), ...auditQueryFields });
export type AuditExportInput = z.output<typeof auditExportSchema>;

/** What exporting needs beyond reading: the data directory and the job's progress. */
export interface AuditExportContext extends AuditReadContext {
  app: AuditReadContext["app"] & { readonly config: { readonly dataDir: string } };
  job?: { readonly id: number; setProgress(percent: number, description?: string): void } | null;
}

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

/** Write the report; returns its path. Services other than MIDDLEWARE give an empty report. */
export async function exportAudit(ctx: AuditExportContext, data: AuditExportInput): Promise<string> {
  const options = { ...data["query-options"], count: false, get: false };
  const attrs = { filters: "data.query-filters", options: "data.query-options" };
  await foldPendingAudit(ctx.app.store);
  const entries = data.services[0] === "MIDDLEWARE" ? ((await queryAudit(ctx.app.store.db, ctx.app.store.dialect, data["query-filters"], options, attrs, ctx.app.registry)) as AuditEntry[]) : [];
  ctx.job?.setProgress(50, `Writing ${entries.length} entries`);
  const dir = path.join(ctx.app.config.dataDir, "audit-reports");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ext = data.export_format === "CSV" ? "csv" : "json";
  const file = path.join(dir, `audit-${new Date().toISOString().replace(/[:.]/g, "-")}-${ctx.job?.id ?? 0}.${ext}`);
  writeFileSync(file, data.export_format === "CSV" ? auditCsv(entries) : auditJson(entries), { mode: 0o600 });
  return file;
}
