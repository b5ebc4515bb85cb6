// The outgoing mail queue: mail for logins, resets, verification and notices is queued as
// (user, kind) — never a code — and sent by a worker in every server process. The code is minted
// when the mail is built, just before it is sent, so the store never holds an unsent code.
//
// Sharing: a worker claims due rows with a lease (`locked_until`) in one statement; on PostgreSQL
// the candidate rows are taken `FOR UPDATE SKIP LOCKED`, so two processes never claim the same
// row and neither waits for the other; SQLite has one writer, so its single UPDATE … RETURNING is
// atomic. A process that dies mid-send leaves the lease to expire and another takes the row over.
//
// Failures: retried with exponential back-off until the kind's useful life ends (a sign-in code
// is worthless after 10 minutes, a reset after an hour), then FAILED. The first failure and the
// final one are audited (event MAIL); mail.queue lists every row with its last error.

import { sql } from "kysely";
import type { Logger } from "pino";
import type { Store, Tx } from "../store/db.js";
import type { SecretBox } from "../store/secret-box.js";
import { writeAudit } from "../audit/audit.js";
import { CallError } from "../server/errors.js";
import { CODE_RULES, mintEmailCode } from "../auth/email-codes.js";
import { trustedCas } from "../directory/certificate-authorities.js";
import { mailServer } from "./settings.js";
import { sendOne, type OutgoingMail } from "./transport.js";
import { directoryResetMail, loginCodeMail, MAIL_MAX_AGE_MS, passwordChangedMail, resetMail, verifyEmailMail, type MailKind } from "./messages.js";

/** What the mail module needs of the application (src/app.ts App satisfies it). */
export interface MailContext {
  readonly store: Store;
  readonly secretBox: SecretBox;
  readonly log: Logger;
}

/** A row is held this long by the process sending it. */
const LEASE_MS = 60_000;
const BATCH = 10;
/** Sent and dropped rows are kept this long for mail.queue. */
const KEEP_DONE_MS = 24 * 3600_000;

export interface RetryPolicy {
  baseMs: number;
  maxMs: number;
}
export const DEFAULT_RETRY: RetryPolicy = { baseMs: 2_000, maxMs: 5 * 60_000 };

/** Queue a mail (several identical pending ones are one: no flooding a mailbox). Returns the row id. */
export async function enqueueMail(db: Tx, userId: number, kind: MailKind, now = Date.now()): Promise<number> {
  const pending = await db.selectFrom("mail_queue").select("id").where("user_id", "=", userId).where("kind", "=", kind).where("state", "=", "PENDING").executeTakeFirst();
  if (pending) {
    // Due now again (a new request deserves a new code), keeping its history.
    await db.updateTable("mail_queue").set({ next_attempt_at: now }).where("id", "=", pending.id).execute();
    return pending.id;
  }
  const row = await db
    .insertInto("mail_queue")
    .values({ user_id: userId, kind, next_attempt_at: now, created_at: now, last_error: null, last_error_code: null, sent_at: null })
    .returning("id")
    .executeTakeFirstOrThrow();
  return row.id;
}

interface Claimed {
  id: number;
  user_id: number;
  kind: string;
  attempts: number;
  created_at: number;
}

/** Claim up to BATCH due rows for this process (lease, attempt counted). */
async function claimDue(store: Store, now: number): Promise<Claimed[]> {
  const lock = store.dialect === "postgres" ? sql`for update skip locked` : sql``;
  const r = await sql<Claimed>`update mail_queue set locked_until = ${now + LEASE_MS}, attempts = attempts + 1
    where id in (select id from mail_queue where state = 'PENDING' and next_attempt_at <= ${now} and locked_until <= ${now}
      order by id limit ${BATCH} ${lock})
    returning id, user_id, kind, attempts, created_at`.execute(store.db);
  return r.rows.map((x) => ({ ...x, id: Number(x.id), user_id: Number(x.user_id), attempts: Number(x.attempts), created_at: Number(x.created_at) }));
}

/** The message for a row (minting its code now), or null when there is nothing to send. */
async function buildMail(ctx: MailContext, row: Claimed): Promise<OutgoingMail | null> {
  const db = ctx.store.db;
  const u = await db.selectFrom("users").select(["id", "username", "email", "email_verified", "source", "locked"]).where("id", "=", row.user_id).executeTakeFirst();
  if (!u?.email) return null;
  const kind = row.kind as MailKind;
  if (kind === "VERIFY_EMAIL") {
    if (u.email_verified) return null;
    const code = await mintEmailCode(db, u.id, "EMAIL_VERIFY", { email: u.email });
    return verifyEmailMail(u.email, u.username, code, CODE_RULES.EMAIL_VERIFY.ttlMs);
  }
  // Everything else goes only to a verified address.
  if (!u.email_verified) return null;
  if (kind === "LOGIN_CODE") {
    const code = await mintEmailCode(db, u.id, "EMAIL_2FA");
    return loginCodeMail(u.email, u.username, code, CODE_RULES.EMAIL_2FA.ttlMs);
  }
  if (kind === "PASSWORD_RESET") {
    if (u.source === "LDAP") return directoryResetMail(u.email, u.username);
    if (u.locked) return null;
    const code = await mintEmailCode(db, u.id, "PASSWORD_RESET");
    return resetMail(u.email, u.username, code, CODE_RULES.PASSWORD_RESET.ttlMs);
  }
  if (kind === "PASSWORD_CHANGED") return passwordChangedMail(u.email, u.username);
  return null;
}

async function finish(ctx: MailContext, row: Claimed, state: "SENT" | "DROPPED"): Promise<void> {
  const now = Date.now();
  await ctx.store.db
    .updateTable("mail_queue")
    .set({ state, sent_at: state === "SENT" ? now : null, locked_until: 0 })
    .where("id", "=", row.id)
    .execute();
}

async function failed(ctx: MailContext, row: Claimed, err: unknown, retry: RetryPolicy): Promise<void> {
  const now = Date.now();
  const e = err instanceof CallError ? err : new CallError(String((err as Error)?.message ?? err), "mail.send_failed");
  const delay = Math.min(retry.maxMs, retry.baseMs * 2 ** Math.min(20, row.attempts - 1));
  const giveUp = now + delay > row.created_at + (MAIL_MAX_AGE_MS[row.kind as MailKind] ?? 0);
  await ctx.store.db
    .updateTable("mail_queue")
    .set({ state: giveUp ? "FAILED" : "PENDING", next_attempt_at: now + delay, locked_until: 0, last_error: e.message.slice(0, 500), last_error_code: e.code })
    .where("id", "=", row.id)
    .execute();
  ctx.log.warn({ mail: row.id, kind: row.kind, code: e.code, attempts: row.attempts }, giveUp ? "mail failed for good" : "mail failed, will retry");
  if (row.attempts === 1 || giveUp) {
    await writeAudit(ctx, {
      event: "MAIL",
      eventData: { mail_id: row.id, kind: row.kind, user_id: row.user_id, attempts: row.attempts, error: e.message.slice(0, 500), code: e.code, final: giveUp },
      success: false,
      conn: null,
      session: null,
      username: null,
    });
  }
}

/** One pass: claim what is due and send it. Returns how many rows were handled. */
export async function runQueueOnce(ctx: MailContext, retry: RetryPolicy = DEFAULT_RETRY): Promise<number> {
  const now = Date.now();
  const rows = await claimDue(ctx.store, now);
  if (!rows.length) return 0;
  const server = await mailServer(ctx);
  const trust = await trustedCas(ctx.store.db);
  for (const row of rows) {
    try {
      if (!server.outgoingserver || !server.fromemail) throw new CallError("No outgoing mail server is configured.", "mail.not_configured");
      const mail = await buildMail(ctx, row);
      if (!mail) {
        await finish(ctx, row, "DROPPED");
        continue;
      }
      await sendOne(server, trust, mail);
      await finish(ctx, row, "SENT");
    } catch (err) {
      await failed(ctx, row, err, retry).catch((e) => ctx.log.error({ err: e }, "mail queue update failed"));
    }
  }
  await ctx.store.db
    .deleteFrom("mail_queue")
    .where("state", "in", ["SENT", "DROPPED"])
    .where("created_at", "<", now - KEEP_DONE_MS)
    .execute();
  return rows.length;
}

/** When the next row falls due (null: nothing pending). */
export async function nextDue(db: Tx): Promise<number | null> {
  const r = await db
    .selectFrom("mail_queue")
    .select((eb) => eb.fn.min("next_attempt_at").as("at"))
    .where("state", "=", "PENDING")
    .executeTakeFirst();
  return r?.at === null || r?.at === undefined ? null : Number(r.at);
}

export interface QueueEntry {
  id: number;
  user_id: number;
  username: string | null;
  kind: string;
  state: string;
  attempts: number;
  created_at: Date;
  next_attempt_at: Date | null;
  sent_at: Date | null;
  last_error: string | null;
  last_error_code: string | null;
}

/** mail.queue: the newest rows first (at most `limit`). */
export async function listQueue(db: Tx, opts: { state?: string; limit: number }): Promise<QueueEntry[]> {
  let q = db
    .selectFrom("mail_queue")
    .leftJoin("users", "users.id", "mail_queue.user_id")
    .select([
      "mail_queue.id",
      "mail_queue.user_id",
      "users.username",
      "mail_queue.kind",
      "mail_queue.state",
      "mail_queue.attempts",
      "mail_queue.created_at",
      "mail_queue.next_attempt_at",
      "mail_queue.sent_at",
      "mail_queue.last_error",
      "mail_queue.last_error_code",
    ])
    .orderBy("mail_queue.id", "desc")
    .limit(opts.limit);
  if (opts.state) q = q.where("mail_queue.state", "=", opts.state);
  const rows = await q.execute();
  return rows.map((r) => ({
    id: Number(r.id),
    user_id: Number(r.user_id),
    username: r.username ?? null,
    kind: r.kind,
    state: r.state,
    attempts: Number(r.attempts),
    created_at: new Date(Number(r.created_at)),
    next_attempt_at: r.state === "PENDING" ? new Date(Number(r.next_attempt_at)) : null,
    sent_at: r.sent_at === null ? null : new Date(Number(r.sent_at)),
    last_error: r.last_error,
    last_error_code: r.last_error_code,
  }));
}
