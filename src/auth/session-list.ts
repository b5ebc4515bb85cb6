// The stored sessions as auth.sessions lists them, and ending them (auth.terminate_session,
// auth.terminate_other_sessions) within the rows the caller may reach.

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

/** Ids of the sessions not terminated (only one account's unless `scope.all`). */
export async function openSessionIds(db: Tx, scope: RowScope): Promise<string[]> {
  let q = db.selectFrom("sessions").select("id").where("terminated", "=", 0);
  if (!scope.all) q = q.where("user_id", "=", scope.userId);
  return (await q.execute()).map((r) => r.id);
}

/** What ending sessions needs: the store, and the service that ends a session in every process. */
export interface SessionEndContext {
  readonly store: { readonly db: Tx };
  readonly auth: { terminateSession(id: string): Promise<boolean> };
}

/**
 * auth.terminate_session: end session `id` when it is within `scope` (a caller without
 * AUTH_SESSIONS_WRITE: its own account's). Another account's session answers false, as an unknown
 * id does: the caller learns nothing about it, and it stays open.
 */
export async function terminateSessionIn(app: SessionEndContext, scope: RowScope, id: string): Promise<boolean> {
  if (!scope.all) {
    const row = await app.store.db.selectFrom("sessions").select("user_id").where("id", "=", id).executeTakeFirst();
    if (!row || row.user_id !== scope.userId) return false;
  }
  return app.auth.terminateSession(id);
}

/** auth.terminate_other_sessions: end every open session within `scope` but `currentId`. */
export async function terminateOtherSessionsIn(app: SessionEndContext, scope: RowScope, currentId: string | undefined): Promise<true> {
  for (const id of await openSessionIds(app.store.db, scope)) if (id !== currentId) await app.auth.terminateSession(id);
  return true;
}
