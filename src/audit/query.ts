// Reading the audit log (reference §10): rows as audit entries, filters and ordering pushed down
// to SQL on the stored columns (the table grows without bound), the rest in memory.

import { z } from "zod";
import type { Db } from "../store/db.js";
import type { Dialect } from "../store/db.js";
import type { ColumnMap } from "../store/query.js";
import { runEntityQuery } from "../accounts/entity-query.js";
import type { AuditTable } from "../store/schema.js";
import type { Selectable } from "kysely";
import { redactCallParams, type MethodLookup } from "./secret-args.js";
import { foldPendingAudit, redactParams } from "./audit.js";
import { ValidationErrors } from "../server/errors.js";
import { AuditEntrySchema } from "./schemas.js";

export const AUDIT_SERVICES = ["MIDDLEWARE", "SMB", "SUDO", "SYSTEM"] as const;

/** The fields of an audit entry, in AuditEntrySchema's order (select's known columns, the CSV export's columns). */
export const AUDIT_FIELDS = Object.keys(AuditEntrySchema.shape) as readonly (keyof AuditEntry)[];

const AUDIT_FIELD_SET: ReadonlySet<string> = new Set(AUDIT_FIELDS);

const C = (c: string) => `"audit"."${c}"`;
/** Columns the audit query pushes down (exported for the plan test in test/query-index.test.ts). */
export const AUDIT_COLUMNS: ColumnMap = {
  audit_id: { sql: C("audit_id"), kind: "text", notNull: true },
  message_timestamp: { sql: C("message_timestamp"), kind: "int", notNull: true },
  timestamp: { sql: C("timestamp"), kind: "datetime", notNull: true },
  address: { sql: C("address"), kind: "text", notNull: true },
  username: { sql: C("username"), kind: "text", notNull: true },
  session: { sql: C("session"), kind: "text" },
  service: { sql: C("service"), kind: "text", notNull: true },
  event: { sql: C("event"), kind: "text", notNull: true },
  success: { sql: C("success"), kind: "bool", notNull: true },
};

/** An audit entry (audit.query): AuditEntrySchema's shape. */
export type AuditEntry = z.infer<typeof AuditEntrySchema>;

export function auditEntry(r: Selectable<AuditTable>): AuditEntry {
  return {
    audit_id: r.audit_id,
    message_timestamp: Number(r.message_timestamp),
    timestamp: new Date(Number(r.timestamp)),
    address: r.address,
    username: r.username,
    session: r.session,
    service: r.service,
    service_data: JSON.parse(r.service_data),
    event: r.event,
    event_data: JSON.parse(r.event_data),
    success: !!r.success,
  };
}

/**
 * A METHOD_CALL entry's parameters redacted again on the way out, by today's declarations: rows
 * written before a method declared a secret argument (or by an older version) must not show it in
 * a query, a filter match or an export.
 */
export function redactStoredEntry(entry: AuditEntry, methods: MethodLookup): AuditEntry {
  const data = entry.event_data as { method?: unknown; params?: unknown } | null;
  if (entry.event !== "METHOD_CALL" || !data || typeof data !== "object" || !Array.isArray(data.params)) return entry;
  const def = typeof data.method === "string" ? methods.get(data.method) : undefined;
  const params = def ? redactCallParams(methods, def, data.params) : redactParams(data.params);
  return { ...entry, event_data: { ...data, params } };
}

export function queryAudit(db: Db, dialect: Dialect, filters: unknown, options: unknown, attrs: { filters: string; options: string }, methods: MethodLookup): Promise<unknown> {
  return runEntityQuery<Selectable<AuditTable>, AuditEntry>(
    db,
    dialect,
    {
      selectSql: `SELECT * FROM "audit"`,
      countSql: `SELECT count(*) AS n FROM "audit"`,
      defaultOrder: C("id"),
      columns: AUDIT_COLUMNS,
      fields: AUDIT_FIELD_SET,
      build: async (rows) => rows.map((r) => redactStoredEntry(auditEntry(r), methods)),
    },
    { filters, options, attrs },
  );
}

/** The arguments audit.query and audit.export share (reference §10). */
export const auditQueryFields = {
  services: z.array(z.enum(AUDIT_SERVICES)).length(1, "Exactly one service must be selected").default(["MIDDLEWARE"]),
  "query-filters": z.array(z.any()).default([]),
  "query-options": z.record(z.string(), z.any()).default({}),
  remote_controller: z.boolean().default(false),
};
const auditQueryArgs = z.strictObject(auditQueryFields);
export type AuditQueryInput = z.output<typeof auditQueryArgs>;

/** What reading the audit log needs: the store, and the method table (to redact stored parameters). */
export interface AuditReadContext {
  app: { readonly store: { readonly db: Db; readonly dialect: Dialect }; readonly registry: MethodLookup };
}

/**
 * audit.query (`attr`: its argument's name): a limit, count or get is required (the log grows
 * without bound) and select names known columns only. Services other than MIDDLEWARE keep no
 * entries here: none, a count of 0, or null for get.
 */
export async function auditQueryCall(ctx: AuditReadContext, data: AuditQueryInput, attr: string): Promise<unknown> {
  const options = data["query-options"];
  const errors = new ValidationErrors();
  if (!options.limit && !options.count && !options.get) {
    errors.add(`${attr}.query-options`, "query-options must be set to either gather row count or contain a limit on the rows returned.", "audit.query_unbounded");
  }
  const select = Array.isArray(options.select) ? options.select : [];
  for (const [i, item] of select.entries()) {
    const name = String(Array.isArray(item) ? item[0] : item).split(".")[0];
    if (!AUDIT_FIELD_SET.has(name)) errors.add(`${attr}.query-options.select.${i}`, `${name}: unknown column`, "audit.unknown_column");
  }
  errors.check();
  if (data.services[0] !== "MIDDLEWARE") return options.count ? 0 : options.get ? null : [];
  // Entries this process keeps outside the table for a moment (the fleet proxy's call journal) first.
  await foldPendingAudit(ctx.app.store);
  return queryAudit(ctx.app.store.db, ctx.app.store.dialect, data["query-filters"], options, { filters: `${attr}.query-filters`, options: `${attr}.query-options` }, ctx.app.registry);
}
