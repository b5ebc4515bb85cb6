// Audit log (reference §10): AUTHENTICATION, LOGOUT and METHOD_CALL entries in the store.
// Secrets never reach the log: parameters pass through `redactParams` first.

import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type BetterSqlite from "better-sqlite3";
import { freeSqliteHandle, type Store } from "../store/db.js";
import type { Tx } from "../store/db.js";
import type { Connection } from "../server/connection.js";
import type { Session } from "../auth/session.js";
import { param, prepare } from "../auth/prepared.js";
import { bumpCounter } from "../auth/rate-limit.js";
import { sourceKey } from "../auth/source.js";

/** What writing audit entries needs of the application (src/app.ts App satisfies it). */
export interface AuditContext {
  readonly store: Store;
  readonly log: Logger;
}

export const REDACTED = "********";

/** Input keys whose values are secrets wherever they appear in a call's parameters. */
const SECRET_INPUT_KEYS = new Set(["password", "old_password", "new_password", "api_key", "key", "token", "otp_token", "bind_password", "pass", "secret", "code"]);

export function redactParams(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactParams);
  if (value && typeof value === "object" && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_INPUT_KEYS.has(k) && v !== null && v !== undefined ? REDACTED : redactParams(v);
    return out;
  }
  return value;
}

// ---- unauthenticated entries ------------------------------------------------------------------
// Anyone can reach the server, so what an unauthenticated caller sends is kept small and inert:
// strings cut to 256 characters, at most 4 levels and 16 keys (or items) a level, at most 2 KiB an
// entry, control characters escaped (a log viewer or CSV reader must not be steered by them).

export const ANON_LIMITS = { string: 256, depth: 4, keys: 16, entryBytes: 2048 } as const;

// C0, DEL, C1, line/paragraph separators and the bidirectional overrides and isolates.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Control characters as `\uXXXX` text, then cut to 256 characters. */
export function boundString(s: string): string {
  const escaped = s.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return escaped.length > ANON_LIMITS.string ? `${escaped.slice(0, ANON_LIMITS.string - 1)}…` : escaped;
}

/** A bounded copy of an unauthenticated caller's value (see ANON_LIMITS). */
export function boundValue(value: unknown, depth = 1): unknown {
  if (typeof value === "string") return boundString(value);
  if (value === null || typeof value === "number" || typeof value === "boolean") return value;
  if (value instanceof Date) return value.toISOString();
  if (typeof value !== "object") return boundString(String(value));
  if (depth > ANON_LIMITS.depth) return "…";
  if (Array.isArray(value)) {
    // Over the limit: the first 15 and a marker, 16 in all.
    const keep = value.length > ANON_LIMITS.keys ? ANON_LIMITS.keys - 1 : value.length;
    const out = value.slice(0, keep).map((v) => boundValue(v, depth + 1));
    if (keep < value.length) out.push(`… ${value.length - keep} more`);
    return out;
  }
  const out: Record<string, unknown> = {};
  const keys = Object.keys(value);
  const keep = keys.length > ANON_LIMITS.keys ? ANON_LIMITS.keys - 1 : keys.length;
  for (const k of keys.slice(0, keep)) out[boundString(k)] = boundValue((value as Record<string, unknown>)[k], depth + 1);
  if (keep < keys.length) out["…"] = `${keys.length - keep} more keys`;
  return out;
}

/** Event data of an unauthenticated entry: every value bounded, the whole at most 2 KiB. */
export function boundEventData(data: Record<string, unknown>): Record<string, unknown> {
  const out = boundValue(data, 0) as Record<string, unknown>;
  if (Buffer.byteLength(JSON.stringify(out)) <= ANON_LIMITS.entryBytes) return out;
  // Too big as a whole: the parameters give way to a short, marked preview.
  const rest = { ...out, params: null, params_truncated: true };
  const room = ANON_LIMITS.entryBytes - Buffer.byteLength(JSON.stringify(rest)) - 64;
  const preview = room > 0 ? JSON.stringify(out.params ?? null).slice(0, Math.min(room, ANON_LIMITS.string)) : "";
  const withPreview = { ...rest, params_preview: preview };
  while (Buffer.byteLength(JSON.stringify(withPreview)) > ANON_LIMITS.entryBytes && withPreview.params_preview.length) {
    withPreview.params_preview = withPreview.params_preview.slice(0, Math.floor(withPreview.params_preview.length / 2));
  }
  return withPreview;
}

/** METHOD_CALL entries written for unauthenticated calls, per source (address, IPv6 /64) and minute. */
export const ANON_AUDIT_PER_MINUTE = 30;
const ANON_AUDIT_WINDOW_MS = 60_000;

/**
 * May an unauthenticated call from `conn` be audited now? Calls that need a login are refused
 * without touching the per-method limiter, so without this budget anyone could fill the audit log.
 * "note": the budget just ran out — write one entry saying so, then nothing until the window ends.
 * Test-only limiter exemptions do not apply: the budget protects the log, not the caller.
 */
export async function anonymousAuditBudget(app: AuditContext, conn: Connection | null): Promise<"yes" | "note" | "no"> {
  // Per source as the limiters count it (IPv6 per /64), so hopping addresses does not reset it.
  const count = await bumpCounter(app, `audit-anon:${sourceKey(conn?.remoteAddress ?? "")}`, ANON_AUDIT_WINDOW_MS);
  return count <= ANON_AUDIT_PER_MINUTE ? "yes" : count === ANON_AUDIT_PER_MINUTE + 1 ? "note" : "no";
}

export interface AuditInput {
  event: "AUTHENTICATION" | "LOGOUT" | "METHOD_CALL" | string;
  eventData: Record<string, unknown>;
  success: boolean;
  conn: Connection | null;
  session: Session | null;
  /** Username for AUTHENTICATION entries before a session exists. */
  username?: string | null;
}

/** One entry's row, in the order of its columns (and of insertAudit's arguments). */
export type AuditRow = [string, number, number, string, string, string | null, string, string, string, string, number];
const AUDIT_COLUMNS = 11;

/** The columns of row `r` of an INSERT, as parameters `r * 11` to `r * 11 + 10`. */
function auditRowParams(r: number) {
  const at = r * AUDIT_COLUMNS;
  return {
    audit_id: param<string>(at),
    message_timestamp: param<number>(at + 1),
    timestamp: param<number>(at + 2),
    address: param<string>(at + 3),
    username: param<string>(at + 4),
    session: param<string | null>(at + 5),
    service: param<string>(at + 6),
    service_data: param<string>(at + 7),
    event: param<string>(at + 8),
    event_data: param<string>(at + 9),
    success: param<number>(at + 10),
  };
}

const insertAudit = prepare<AuditRow>()(AUDIT_COLUMNS, (db) => db.insertInto("audit").values(auditRowParams(0)).compile());

/** The service_data text of the last entry of a session (a session's calls come in series). */
const serviceDataOf = new WeakMap<Session, { conn: Connection | null; origin: unknown; credentials: unknown; credentialsData: unknown; json: string }>();

/** The entry's service_data: who called over what (the same text for every call of one session and connection). */
function serviceData(conn: Connection | null, session: Session | null): string {
  const hit = session ? serviceDataOf.get(session) : undefined;
  // Reused only while the very same objects stand (credentials are replaced, not edited, on a change).
  if (hit && hit.conn === conn && hit.origin === conn?.origin && hit.credentials === session!.credentials && hit.credentialsData === session!.credentialsData) return hit.json;
  const json = JSON.stringify({
    vers: { major: 0, minor: 1 },
    origin: conn?.origin ?? null,
    protocol: conn?.protocol ?? "WEBSOCKET",
    credentials: session ? { credentials: session.credentials, credentials_data: session.credentialsData } : null,
  });
  if (session) serviceDataOf.set(session, { conn, origin: conn?.origin, credentials: session.credentials, credentialsData: session.credentialsData, json });
  return json;
}

/** The row of one entry, stamped `now` (a fresh audit_id each time it is built). */
function auditRow(input: AuditInput, now: number): AuditRow {
  const session = input.session;
  if (session) return sessionAuditRow(input.conn, session, input.event, JSON.stringify(input.eventData), input.success, now);
  const username = input.username === null || input.username === undefined ? ".UNAUTHENTICATED" : boundString(input.username);
  return [
    randomUUID(),
    Math.floor(now / 1000),
    now,
    input.conn?.remoteAddress ?? "",
    username,
    null,
    "MIDDLEWARE",
    serviceData(input.conn, null),
    input.event,
    JSON.stringify(boundEventData(input.eventData)),
    input.success ? 1 : 0,
  ];
}

/**
 * The row of an authenticated caller's entry whose event data is text already (the fleet proxy
 * keeps it per target and method instead of encoding the same object on every call).
 */
export function sessionAuditRow(conn: Connection | null, session: Session, event: string, eventData: string, success: boolean, now = Date.now()): AuditRow {
  return [randomUUID(), Math.floor(now / 1000), now, conn?.remoteAddress ?? "", session.username, session.id, "MIDDLEWARE", serviceData(conn, session), event, eventData, success ? 1 : 0];
}

/** Write one entry; `db` lets a caller put it in its own transaction (a failure then throws). */
export async function writeAudit(app: AuditContext, input: AuditInput, db: Tx = app.store.db): Promise<void> {
  await insertRow(app, auditRow(input, Date.now()), db);
}

/**
 * SQLite: write one entry now, synchronously, on the store's own connection, inside a transaction
 * the caller opened there (src/auth/service.ts: a login's session swap). Throws on failure: the
 * caller's transaction then rolls back.
 */
export function writeAuditNow(app: AuditContext, input: AuditInput): void {
  insertAudit.runNow(app.store.db, ...auditRow(input, Date.now()));
}

async function insertRow(app: AuditContext, row: AuditRow, db: Tx = app.store.db): Promise<void> {
  try {
    await insertAudit.execute(db, ...row);
  } catch (err) {
    app.log.error({ err }, "audit write failed");
    // In a caller's transaction (a login's session swap) the failure is the caller's: its change
    // must not commit without its entry (and on PostgreSQL that transaction cannot go on anyway).
    if (db !== app.store.db) throw err;
  }
}

/** The rows of `inputs`, each stamped as it is built (a fresh audit_id each). */
export function auditRows(inputs: readonly AuditInput[]): AuditRow[] {
  return inputs.map((input) => auditRow(input, Date.now()));
}

const AUDIT_COLUMN_LIST = '"audit_id", "message_timestamp", "timestamp", "address", "username", "session", "service", "service_data", "event", "event_data", "success"';
const AUDIT_ROW_SLOTS = `(${Array.from({ length: AUDIT_COLUMNS }, () => "?").join(", ")})`;
/** SQLite: the INSERT of n rows as a statement of the store's connection, by connection and n. */
const nowInserts = new WeakMap<BetterSqlite.Database, Map<number, BetterSqlite.Statement>>();

function nowInsertOf(raw: BetterSqlite.Database, n: number): BetterSqlite.Statement {
  let byN = nowInserts.get(raw);
  if (!byN) nowInserts.set(raw, (byN = new Map()));
  let st = byN.get(n);
  if (!st) {
    st = raw.prepare(`insert into "audit" (${AUDIT_COLUMN_LIST}) values ${Array.from({ length: n }, () => AUDIT_ROW_SLOTS).join(", ")}`);
    if (byN.size > 300) byN.clear();
    byN.set(n, st);
  }
  return st;
}

/** An outcome to record on an entry already in the table (by its row id). */
export interface AuditOutcome {
  id: number;
  success: number;
  eventData: string;
}

const AUDIT_ROWS_PER_STATEMENT = 256;
/** The largest statement foldAuditRowsNow runs (a power of two). */
const NOW_FOLD_CHUNK = 64;
const nowOutcomes = new WeakMap<BetterSqlite.Database, BetterSqlite.Statement>();

/** The row id of each of `rows`, in order, from the (id, audit_id) pairs an INSERT answered. */
function idsInOrder(rows: readonly AuditRow[], answered: readonly { id: unknown; audit_id: string }[]): number[] {
  const byAuditId = new Map(answered.map((r) => [r.audit_id, Number(r.id)]));
  return rows.map((r) => byAuditId.get(r[0]) ?? -1);
}

/**
 * SQLite, when no transaction is open on the store's connection: insert `rows` and record
 * `outcomes` in ONE transaction right now, synchronously, and answer the row id of each row (in
 * order). Undefined: it could not run now (PostgreSQL, a transaction open there) — use
 * foldAuditRows. Throws when the transaction failed (nothing of it was written).
 */
export function foldAuditRowsNow(app: AuditContext, rows: readonly AuditRow[], outcomes: readonly AuditOutcome[]): number[] | undefined {
  const raw = freeSqliteHandle(app.store.db);
  if (!raw) return undefined;
  let update = nowOutcomes.get(raw);
  if (!update) nowOutcomes.set(raw, (update = raw.prepare('update "audit" set "success" = ?, "event_data" = ? where "id" = ?')));
  const st = update;
  return raw.transaction(() => {
    for (const o of outcomes) st.run(o.success, o.eventData, o.id);
    const ids: number[] = [];
    for (let i = 0; i < rows.length; ) {
      // Statements of 64, 32, ... 1 rows (a handful prepared, whatever the group sizes).
      let n = NOW_FOLD_CHUNK;
      while (n > rows.length - i) n >>= 1;
      // One statement on one connection: its rows get consecutive ids (AUTOINCREMENT: the largest so far + 1 each), the last one answered.
      const last = Number(nowInsertOf(raw, n).run(n === 1 ? rows[i]! : flatRows(rows, i, n)).lastInsertRowid);
      i += n;
      for (let r = 0; r < n; r++) ids.push(last - n + 1 + r);
    }
    return ids;
  })();
}

/** The columns of rows `from` to `from + n - 1`, in one array (an INSERT's parameters). */
function flatRows(rows: readonly AuditRow[], from: number, n: number): unknown[] {
  const out = new Array<unknown>(n * AUDIT_COLUMNS);
  let k = 0;
  for (let r = from; r < from + n; r++) {
    const row = rows[r]!;
    for (let c = 0; c < AUDIT_COLUMNS; c++) out[k++] = row[c];
  }
  return out;
}

/** foldAuditRowsNow's awaited way (either store): one transaction; rejects when it failed (nothing of it written). */
export async function foldAuditRows(app: AuditContext, rows: readonly AuditRow[], outcomes: readonly AuditOutcome[]): Promise<number[]> {
  return app.store.db.transaction().execute(async (trx) => {
    for (const o of outcomes) await trx.updateTable("audit").set({ success: o.success, event_data: o.eventData }).where("id", "=", o.id).execute();
    const answered: { id: unknown; audit_id: string }[] = [];
    for (let i = 0; i < rows.length; i += AUDIT_ROWS_PER_STATEMENT) {
      const values = rows.slice(i, i + AUDIT_ROWS_PER_STATEMENT).map((r) => ({
        audit_id: r[0],
        message_timestamp: r[1],
        timestamp: r[2],
        address: r[3],
        username: r[4],
        session: r[5],
        service: r[6],
        service_data: r[7],
        event: r[8],
        event_data: r[9],
        success: r[10],
      }));
      answered.push(...(await trx.insertInto("audit").values(values).returning(["id", "audit_id"]).execute()));
    }
    return idsInOrder(rows, answered);
  });
}

/** Which of `auditIds` (entries stamped at `sinceSeconds` or later) are in the table already. */
export async function auditIdsPresent(app: AuditContext, auditIds: readonly string[], sinceSeconds: number): Promise<Set<string>> {
  const present = new Set<string>();
  for (let i = 0; i < auditIds.length; i += 500) {
    const found = await app.store.db
      .selectFrom("audit")
      .select("audit_id")
      .where("message_timestamp", ">=", sinceSeconds)
      .where("audit_id", "in", auditIds.slice(i, i + 500))
      .execute();
    for (const r of found) present.add(r.audit_id);
  }
  return present;
}

// ---- entries not in the table yet -----------------------------------------------------------
// A writer that keeps entries elsewhere first (the fleet proxy's call journal) registers how to
// fold them in; reading the log (audit.query, audit.export) folds them first, so a call made
// through this process is in the answer.

const pendingFolds = new WeakMap<object, Set<() => Promise<void>>>();

/** Register `fold` for `store`'s readers; answers the function that unregisters it. */
export function onAuditRead(store: object, fold: () => Promise<void>): () => void {
  let set = pendingFolds.get(store);
  if (!set) pendingFolds.set(store, (set = new Set()));
  set.add(fold);
  return () => set.delete(fold);
}

/** Fold every entry this process holds outside the table (before reading the log). */
export async function foldPendingAudit(store: object): Promise<void> {
  const set = pendingFolds.get(store);
  if (set?.size) await Promise.all([...set].map((f) => f()));
}
