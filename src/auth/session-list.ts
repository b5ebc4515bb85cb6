// The stored sessions as auth.sessions lists them, and the ids auth.terminate_other_sessions ends.

import type { z } from "zod";
import type { Tx } from "../store/db.js";
import type { RowScope } from "../access/ownership.js";
import { HEARTBEAT_STALE_MS } from "./session.js";
import type { SessionEntrySchema } from "./schemas.js";

/** An auth.sessions entry: SessionEntrySchema's shape. */
export type SessionEntry = z.infer<typeof SessionEntrySchema>;

/** Sessions not terminated, not expired and heard from recently, oldest first; only one account's unless `scope.all`. */
export function liveSessionRows(db: Tx, scope: RowScope, now = Date.now()) {
  let q = db
    .selectFrom("sessions")
    .selectAll()
    .where("terminated", "=", 0)
    .where("expires_at", ">", now)
    .where("heartbeat", ">", now - HEARTBEAT_STALE_MS);
  if (!scope.all) q = q.where("user_id", "=", scope.userId);
  return q.orderBy("created_at").execute();
}

/** credentials_data as stored (JSON text written by the session service), its login time a Date again. */
function credentialsData(text: string): SessionEntry["credentials_data"] {
  const out = JSON.parse(text) as SessionEntry["credentials_data"];
  if (typeof out.login_at === "string") out.login_at = new Date(out.login_at);
  return out;
}

/**
 * auth.sessions: the live sessions of every process sharing the store (only the caller's own
 * account's when the dispatcher scoped the listing); `currentId`'s is marked current.
 */
export async function sessionEntries(db: Tx, scope: RowScope, currentId: string | undefined, now = Date.now()): Promise<SessionEntry[]> {
  const rows = await liveSessionRows(db, scope, now);
  return rows.map((r) => ({
    id: r.id,
    current: r.id === currentId,
    internal: false,
    origin: r.origin,
    credentials: r.credentials,
    credentials_data: credentialsData(r.credentials_data),
    created_at: new Date(Number(r.created_at)),
    secure_transport: !!r.secure_transport,
  }));
}

/** Ids of every session not terminated. */
export async function openSessionIds(db: Tx): Promise<string[]> {
  return (await db.selectFrom("sessions").select("id").where("terminated", "=", 0).execute()).map((r) => r.id);
}
