// Password reset (OWASP Forgot Password Cheat Sheet; seeds 002/003): auth.password_reset.request
// answers at once and the same for every name — known or not, able to reset or not — and the work
// (who the account is, whether it may reset, the mail) happens after the answer, through the mail
// queue, so the answer's time does not depend on the account either. The code is minted when the
// mail is sent (src/mail/queue.ts) and goes only to a verified address; a directory (LDAP) account
// gets a note to reset in its directory instead. The code signs in like a one-time password
// (OTPW + PASSWORD_CHANGE_REQUIRED: user.set_password then needs no old password); a TOTP account
// still gives its TOTP code; an EMAIL account's mailed code stands for both. Changing the password
// ends the account's other sessions (its password state changed) and mails a notice.

import type { Logger } from "pino";
import type { Db } from "../store/db.js";
import type { Connection } from "../server/connection.js";
import type { RateLimitContext } from "./context.js";
import { CallError } from "../server/errors.js";
import { bumpCounter } from "./rate-limit.js";
import { sourceKey } from "./source.js";
import { checkEmailCode, type MailQueue } from "./email-codes.js";

/** At most this many reset mails per account an hour (OWASP: no mailbox flooding; keycloak#24914). */
export const RESET_PER_USER_PER_HOUR = 5;
/** At most this many reset requests per source an hour (besides the per-minute anonymous limit). */
export const RESET_PER_SOURCE_PER_HOUR = 30;
const HOUR = 3600_000;
/** The account's work starts this long after the request, well after its answer has left. */
const AFTER_ANSWER_MS = 50;

export interface ResetContext extends RateLimitContext {
  readonly log: Logger;
  readonly mail: MailQueue;
}

// Length-prefixed: no name is a prefix of another's key.
const userKey = (username: string) => `reset-user:${username.length}:${username}`;

/** auth.password_reset.request: always `true`, at once; the mail (if any) follows. */
export async function requestPasswordReset(app: ResetContext, conn: Connection, username: string): Promise<true> {
  if (!(conn.loopback && app.rateLimitLoopbackExempt)) {
    const n = await bumpCounter(app, `reset-src:${sourceKey(conn.remoteAddress)}`, HOUR);
    // Per source: says nothing about any account.
    if (n > RESET_PER_SOURCE_PER_HOUR) throw new CallError("Rate Limit Exceeded", "auth.rate_limited");
  }
  // Per account name, known or not (the same statement either way).
  const count = await bumpCounter(app, userKey(username), HOUR);
  if (count <= RESET_PER_USER_PER_HOUR) {
    // After the answer: nothing the caller can time depends on the account. Not setImmediate: the
    // dispatcher still writes the call's audit row before answering, and the account's reads and
    // writes would queue in front of it (the answer would then be slower for real accounts).
    setTimeout(() => void queueReset(app, username).catch((err) => app.log.error({ err }, "password reset request failed")), AFTER_ANSWER_MS).unref();
  }
  return true;
}

async function queueReset(app: ResetContext, username: string): Promise<void> {
  const db = app.store.db;
  const u = await db.selectFrom("users").select(["id", "source", "email", "email_verified", "locked", "password_disabled"]).where("username", "=", username).executeTakeFirst();
  if (!u?.email) return;
  // A directory account gets its note (no code); a local one needs a verified address and a usable password.
  if (u.source !== "LDAP" && (!u.email_verified || u.locked || u.password_disabled)) return;
  await app.mail.enqueue(db, u.id, "PASSWORD_RESET");
}

/** A reset code as typed: 8 digits, maybe 1234-5678. */
const RESET_CODE_RE = /^\s*\d{4}[- ]?\d{4}\s*$/;

/**
 * At sign-in: is `password` the account's live reset code? (Consumed when it is.) Anything else —
 * not shaped like one, no reset pending, wrong, expired, tries used up — answers false and the
 * password is checked as a password.
 */
export async function signInWithResetCode(db: Db, user: { id: number; source: string; locked: number; password_disabled: number }, password: string): Promise<boolean> {
  if (!RESET_CODE_RE.test(password) || user.source === "LDAP" || user.locked || user.password_disabled) return false;
  return (await checkEmailCode(db, user.id, "PASSWORD_RESET", password)).ok;
}
