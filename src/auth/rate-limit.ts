// Methods callable without authentication are limited per (method, remote address): 20 calls a
// minute (reference §7.9). Counters live in the store so every server process shares them.
// Past the limit the caller waits a random while, then gets EBUSY "Rate Limit Exceeded".

import { sql } from "kysely";
import type { App } from "../app.js";
import type { Connection } from "../server/connection.js";
import { CallError, ERRNO } from "../server/errors.js";

export const RATE_LIMIT_CALLS = 20;
export const RATE_LIMIT_WINDOW_MS = 60_000;

/** Atomically add one to a windowed counter and return the new count. */
export async function bumpCounter(app: App, key: string, windowMs: number): Promise<number> {
  const now = Date.now();
  const db = app.store.db;
  // One upsert: a counter whose window ended restarts at 1.
  const row = await db
    .insertInto("counters")
    .values({ key, count: 1, window_start: now, locked_until: null })
    .onConflict((oc) =>
      oc.column("key").doUpdateSet({
        count: sql`case when counters.window_start < ${now - windowMs} then 1 else counters.count + 1 end`,
        window_start: sql`case when counters.window_start < ${now - windowMs} then ${now} else counters.window_start end`,
      }),
    )
    .returning("count")
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

export async function checkRateLimit(app: App, conn: Connection, method: string): Promise<void> {
  if (conn.loopback && app.rateLimitLoopbackExempt) return;
  const count = await bumpCounter(app, `rl:${method}:${conn.remoteAddress}`, RATE_LIMIT_WINDOW_MS);
  if (count > RATE_LIMIT_CALLS) {
    const [lo, hi] = app.rateLimitDelay;
    await new Promise((r) => setTimeout(r, lo + Math.random() * (hi - lo)));
    throw new CallError("Rate Limit Exceeded", ERRNO.EBUSY);
  }
}
