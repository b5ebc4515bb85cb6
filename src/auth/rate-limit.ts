// Methods callable without authentication are limited per (method, source): 20 calls a minute
// (reference §7.9; the source is the client address, IPv6 per /64 — ./source.ts). Counters live
// in the store so every server process shares them. Past the limit the caller waits a random
// while, then gets EBUSY "Rate Limit Exceeded". Unlike the reference, no call lifts the limit
// (core.set_options does not); only the test-only loopback exemption does (./limiter.ts).

import { sql } from "kysely";
import type { RateLimitContext, StoreContext } from "./context.js";
import type { Connection } from "../server/connection.js";
import { CallError } from "../server/errors.js";
import { sourceKey } from "./source.js";

export const RATE_LIMIT_CALLS = 20;
export const RATE_LIMIT_WINDOW_MS = 60_000;

/** Atomically add one to a windowed counter and return the new count. */
export async function bumpCounter(app: StoreContext, key: string, windowMs: number): Promise<number> {
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

const rateKey = (method: string, conn: Connection) => `rl:${method}:${sourceKey(conn.remoteAddress)}`;

async function overLimit(app: RateLimitContext): Promise<never> {
  const [lo, hi] = app.rateLimitDelay;
  await new Promise((r) => setTimeout(r, lo + Math.random() * (hi - lo)));
  throw new CallError("Rate Limit Exceeded", "auth.rate_limited");
}

export async function checkRateLimit(app: RateLimitContext, conn: Connection, method: string): Promise<void> {
  if (conn.loopback && app.rateLimitLoopbackExempt) return;
  const count = await bumpCounter(app, rateKey(method, conn), RATE_LIMIT_WINDOW_MS);
  if (count > RATE_LIMIT_CALLS) await overLimit(app);
}

/**
 * HTTP Basic/Bearer authentication shares auth.login_ex's limit, counting failures only (scripts
 * that authenticate correctly on every request are never limited): refuse before checking the
 * credential once the source used up its allowance…
 */
export async function checkHttpAuthLimit(app: RateLimitContext, conn: Connection): Promise<void> {
  if (conn.loopback && app.rateLimitLoopbackExempt) return;
  const row = await app.store.db.selectFrom("counters").select(["count", "window_start"]).where("key", "=", rateKey("auth.login_ex", conn)).executeTakeFirst();
  if (row && Number(row.window_start) >= Date.now() - RATE_LIMIT_WINDOW_MS && Number(row.count) >= RATE_LIMIT_CALLS) await overLimit(app);
}

/** …and count each failed one. */
export async function countHttpAuthFailure(app: RateLimitContext, conn: Connection): Promise<void> {
  if (conn.loopback && app.rateLimitLoopbackExempt) return;
  await bumpCounter(app, rateKey("auth.login_ex", conn), RATE_LIMIT_WINDOW_MS);
}
