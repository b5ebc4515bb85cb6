// The stored sessions as auth.sessions lists them, and the ids auth.terminate_other_sessions ends.

import type { Tx } from "../store/db.js";
import { HEARTBEAT_STALE_MS } from "./session.js";

/** Sessions not terminated, not expired and heard from recently, oldest first. */
export function liveSessionRows(db: Tx, now = Date.now()) {
  return db
    .selectFrom("sessions")
    .selectAll()
    .where("terminated", "=", 0)
    .where("expires_at", ">", now)
    .where("heartbeat", ">", now - HEARTBEAT_STALE_MS)
    .orderBy("created_at")
    .execute();
}

/** Ids of every session not terminated. */
export async function openSessionIds(db: Tx): Promise<string[]> {
  return (await db.selectFrom("sessions").select("id").where("terminated", "=", 0).execute()).map((r) => r.id);
}
