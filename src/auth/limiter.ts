// The login limiter: guessing is slow for everyone, and nobody can lock an account out remotely.
//
// - Per (account, source): `lockout_threshold` failures (system.security, default 5) within the
//   window (default 15 min) lock that account out for that source for `lockout_duration`
//   (default 15 min). Every mechanism (password, one-time password, second factor, API key,
//   token) is refused while it lasts, whatever the credential.
// - Per account, across all sources: past a few free failures each attempt waits a delay that
//   doubles with every further failure in the window, up to 30 s — slow, never a hard lock, so
//   `admin` still signs in from another source while someone guesses at it.
// - Unknown account names count like known ones (a lock-out reveals nothing).
//
// Counters live in the store (`counters`), so every server process shares them; WebSocket logins
// and HTTP Basic/Bearer authentications go through the same functions. The only way around the
// limiter is the test-only loopback exemption (App.rateLimitLoopbackExempt, set by
// GATEHOUSE_TEST_LIMITER_EXEMPT=1 or the test harness) — never an API call.

import { sql } from "kysely";
import type { LimiterContext } from "./context.js";
import type { Connection } from "../server/connection.js";
import type { Tx } from "../store/db.js";
import { bumpCounter } from "./rate-limit.js";
import { sourceKey } from "./source.js";
import { writeAudit } from "../audit/audit.js";

// Length-prefixed, so no account name can be a prefix of another's keys.
const lockPrefix = (account: string) => `lock:${account.length}:${account}|`;
const lockKey = (account: string, source: string) => `${lockPrefix(account)}${source}`;
const accountKey = (account: string) => `acct:${account}`;

/** Does the test-only exemption cover this caller? */
export function limiterExempt(app: LimiterContext, conn: Connection): boolean {
  return app.rateLimitLoopbackExempt && conn.loopback;
}

/** The per-account delay after `failures` failures in the window (0 while under the free allowance). */
export function accountDelayMs(app: LimiterContext, failures: number): number {
  const { accountFreeFailures, accountDelayBaseMs, accountDelayMaxMs } = app.config.loginLimits;
  if (failures < accountFreeFailures) return 0;
  return Math.min(accountDelayMaxMs, accountDelayBaseMs * 2 ** Math.min(30, failures - accountFreeFailures));
}

/**
 * Before checking a credential for `account`: true when the account is locked out for this
 * caller's source; otherwise waits the account's current delay (all sources' failures) and
 * answers false.
 */
export async function loginRefused(app: LimiterContext, conn: Connection, account: string): Promise<boolean> {
  if (limiterExempt(app, conn)) return false;
  const now = Date.now();
  const rows = await app.store.db
    .selectFrom("counters")
    .select(["key", "count", "window_start", "locked_until"])
    .where("key", "in", [lockKey(account, sourceKey(conn.remoteAddress)), accountKey(account)])
    .execute();
  let failures = 0;
  for (const r of rows) {
    if (r.key === accountKey(account)) {
      if (Number(r.window_start) >= now - app.config.loginLimits.windowMs) failures = Number(r.count);
    } else if (r.locked_until !== null && Number(r.locked_until) > now) {
      return true;
    }
  }
  const delay = accountDelayMs(app, failures);
  if (delay > 0) await new Promise((r) => setTimeout(r, delay));
  return false;
}

/** The lock-out the security policy asks for (./policy.ts lockoutSettings); null: none. */
export interface Lockout {
  threshold: number;
  durationMs: number;
}

/** Count a failed login of `account` from the caller's source; lock the pair out at `lock`'s threshold (audited). */
export async function recordFailure(app: LimiterContext, conn: Connection, lock: Lockout | null, account: string, credentials: string): Promise<void> {
  if (limiterExempt(app, conn)) return;
  const { windowMs } = app.config.loginLimits;
  await bumpCounter(app, accountKey(account), windowMs);
  if (!lock) return;
  const source = sourceKey(conn.remoteAddress);
  const key = lockKey(account, source);
  const count = await bumpCounter(app, key, windowMs);
  if (count < lock.threshold) return;
  const now = Date.now();
  // Only the failure that reaches the threshold locks (and is audited); the counter starts over.
  const r = await app.store.db
    .updateTable("counters")
    .set({ count: 0, window_start: now, locked_until: now + lock.durationMs })
    .where("key", "=", key)
    .where("count", ">=", lock.threshold)
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) return;
  app.log.warn({ account, source }, "login lock-out");
  await writeAudit(app, {
    event: "AUTHENTICATION",
    eventData: {
      credentials: { credentials, credentials_data: { username: account } },
      error: `Account locked out for ${Math.round(lock.durationMs / 1000)} seconds from ${source} after ${lock.threshold} failed logins.`,
      lockout: { source, until: new Date(now + lock.durationMs).toISOString() },
    },
    success: false,
    conn,
    session: null,
    username: account,
  });
}

/** A successful login: forget this source's failures for the account (others' still count). */
export async function clearSourceFailures(app: LimiterContext, conn: Connection, account: string): Promise<void> {
  if (limiterExempt(app, conn)) return;
  await app.store.db
    .deleteFrom("counters")
    .where("key", "=", lockKey(account, sourceKey(conn.remoteAddress)))
    .execute();
}

/** An administrator unlocked or changed the account: every source's lock-out and failure count go. */
export async function clearAccountFailures(db: Tx, account: string): Promise<void> {
  const like = `${lockPrefix(account).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  await db
    .deleteFrom("counters")
    .where((eb) => eb.or([eb("key", "=", accountKey(account)), sql<boolean>`${sql.ref("key")} like ${like} escape '\\'`]))
    .execute();
}
