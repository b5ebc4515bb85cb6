// Audit log (reference §10): AUTHENTICATION, LOGOUT and METHOD_CALL entries in the store.
// Secrets never reach the log: parameters pass through `redactParams` first.

import { randomUUID } from "node:crypto";
import type { App } from "../app.js";
import type { Tx } from "../store/db.js";
import type { Connection } from "../server/connection.js";
import type { Session } from "../auth/session.js";
import { param, prepare } from "../auth/prepared.js";

export const REDACTED = "********";

/** Input keys whose values are secrets wherever they appear in a call's parameters. */
const SECRET_INPUT_KEYS = new Set([
  "password",
  "old_password",
  "new_password",
  "api_key",
  "key",
  "token",
  "otp_token",
  "bind_password",
  "pass",
  "secret",
  "code",
]);

export function redactParams(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactParams);
  if (value && typeof value === "object" && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_INPUT_KEYS.has(k) && v !== null && v !== undefined ? REDACTED : redactParams(v);
    return out;
  }
  return value;
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

const insertAudit = prepare<[string, number, number, string, string, string | null, string, string, string, string, number]>()(11, (db) =>
  db
    .insertInto("audit")
    .values({
      audit_id: param(0),
      message_timestamp: param(1),
      timestamp: param(2),
      address: param(3),
      username: param(4),
      session: param(5),
      service: param(6),
      service_data: param(7),
      event: param(8),
      event_data: param(9),
      success: param(10),
    })
    .compile(),
);

/** Write one entry; `db` lets a caller put it in its own transaction (a failure then throws). */
export async function writeAudit(app: App, input: AuditInput, db: Tx = app.store.db): Promise<void> {
  const now = Date.now();
  const session = input.session;
  const credentials = session ? { credentials: session.credentials, credentials_data: session.credentialsData } : null;
  try {
    await insertAudit.execute(
      db,
      randomUUID(),
      Math.floor(now / 1000),
      now,
      input.conn?.remoteAddress ?? "",
      session?.username ?? input.username ?? ".UNAUTHENTICATED",
      session?.id ?? null,
      "MIDDLEWARE",
      JSON.stringify({
        vers: { major: 0, minor: 1 },
        origin: input.conn?.origin ?? null,
        protocol: input.conn?.protocol ?? "WEBSOCKET",
        credentials,
      }),
      input.event,
      JSON.stringify(input.eventData),
      input.success ? 1 : 0,
    );
  } catch (err) {
    app.log.error({ err }, "audit write failed");
    // In a caller's transaction (a login's session swap) the failure is the caller's: its change
    // must not commit without its entry (and on PostgreSQL that transaction cannot go on anyway).
    if (db !== app.store.db) throw err;
  }
}
