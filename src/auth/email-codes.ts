// Codes sent by e-mail: address verification, the emailed second factor and password reset.
// From a CSPRNG, stored salted and hashed (never the code), single use, short-lived, and at most
// MAX_TRIES guesses each — a try is claimed atomically *before* the comparison, so even a thousand
// parallel guesses compare at most MAX_TRIES times. Compared in constant time. A new code of the
// same kind replaces the user's previous one. Rows live in `onetime_codes` (shared by every
// server process), kinds EMAIL_VERIFY, EMAIL_2FA, PASSWORD_RESET.

import { randomBytes, randomInt } from "node:crypto";
import type { Db, Tx } from "../store/db.js";
import { safeEqual, sha256 } from "./secrets.js";

export type EmailCodeKind = "EMAIL_VERIFY" | "EMAIL_2FA" | "PASSWORD_RESET";

export const MAX_TRIES = 5;

/** Life and length of each kind (ASVS 2.7: ≥ 20 bits; 10 minutes for out-of-band codes). */
export const CODE_RULES: Record<EmailCodeKind, { ttlMs: number; digits: number }> = {
  EMAIL_VERIFY: { ttlMs: 10 * 60_000, digits: 6 },
  EMAIL_2FA: { ttlMs: 10 * 60_000, digits: 6 },
  PASSWORD_RESET: { ttlMs: 15 * 60_000, digits: 8 },
};

function randomDigits(n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += String(randomInt(10));
  return s;
}

function codeHash(salt: string, code: string): string {
  return sha256(`${salt}:${code}`);
}

/** Only digits count (a reset code is shown as 1234-5678; spaces and dashes are ignored). */
export function normalizeCode(code: string): string {
  return code.replace(/[\s-]/g, "");
}

/**
 * A new code of `kind` for the user (replacing any earlier one), with `data` kept beside it
 * (e.g. the address it was sent to). Returns the code, for the mail only.
 */
export async function mintEmailCode(db: Db, userId: number, kind: EmailCodeKind, data: Record<string, unknown> = {}, now = Date.now()): Promise<string> {
  const { ttlMs, digits } = CODE_RULES[kind];
  const code = randomDigits(digits);
  const salt = randomBytes(16).toString("hex");
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom("onetime_codes").where("user_id", "=", userId).where("kind", "=", kind).execute();
    await trx
      .insertInto("onetime_codes")
      .values({ kind, user_id: userId, code_hash: codeHash(salt, code), data: JSON.stringify({ ...data, salt }), created_at: now, expires_at: now + ttlMs, used: 0 })
      .execute();
  });
  return code;
}

export type EmailCodeResult = { ok: true; data: Record<string, unknown> } | { ok: false; reason: "INVALID" | "EXPIRED" | "TOO_MANY" };

/** Check (and on success consume) the user's current code of `kind`. */
export async function checkEmailCode(db: Tx, userId: number, kind: EmailCodeKind, given: string, now = Date.now()): Promise<EmailCodeResult> {
  const row = await db
    .selectFrom("onetime_codes")
    .select(["id", "code_hash", "data", "expires_at", "used", "tries"])
    .where("user_id", "=", userId)
    .where("kind", "=", kind)
    .where("used", "=", 0)
    .orderBy("id", "desc")
    .executeTakeFirst();
  if (!row) return { ok: false, reason: "INVALID" };
  if (Number(row.expires_at) <= now) return { ok: false, reason: "EXPIRED" };
  // Claim one try first (atomic on every store): past MAX_TRIES nothing is compared any more.
  const claimed = await db
    .updateTable("onetime_codes")
    .set((eb) => ({ tries: eb("tries", "+", 1) }))
    .where("id", "=", row.id)
    .where("used", "=", 0)
    .where("tries", "<", MAX_TRIES)
    .executeTakeFirst();
  if (Number(claimed.numUpdatedRows) !== 1) return { ok: false, reason: "TOO_MANY" };
  const data = JSON.parse(row.data) as Record<string, unknown>;
  if (!safeEqual(row.code_hash, codeHash(String(data.salt ?? ""), normalizeCode(given)))) return { ok: false, reason: "INVALID" };
  const used = await db.updateTable("onetime_codes").set({ used: 1 }).where("id", "=", row.id).where("used", "=", 0).executeTakeFirst();
  if (Number(used.numUpdatedRows) !== 1) return { ok: false, reason: "INVALID" };
  const { salt: _salt, ...rest } = data;
  return { ok: true, data: rest };
}

/** Does the user hold a live code of `kind` (unused, unexpired, tries left)? */
export async function hasLiveCode(db: Tx, userId: number, kind: EmailCodeKind, now = Date.now()): Promise<boolean> {
  const row = await db
    .selectFrom("onetime_codes")
    .select("id")
    .where("user_id", "=", userId)
    .where("kind", "=", kind)
    .where("used", "=", 0)
    .where("expires_at", ">", now)
    .where("tries", "<", MAX_TRIES)
    .executeTakeFirst();
  return !!row;
}

/** Forget the user's codes of `kind` (e.g. the address they were sent to changed). */
export async function dropEmailCodes(db: Tx, userId: number, kind: EmailCodeKind): Promise<void> {
  await db.deleteFrom("onetime_codes").where("user_id", "=", userId).where("kind", "=", kind).execute();
}

// ---- the emailed second factor and the mail queue, as logins see them ----------------------------

/** Kinds of queued mail the auth area asks for (src/mail/messages.ts MailKind). */
export type AuthMailKind = "VERIFY_EMAIL" | "LOGIN_CODE" | "PASSWORD_RESET" | "PASSWORD_CHANGED";

/** Queuing a mail (src/mail/service.ts MailService provides it): the answer never waits for SMTP. */
export interface MailQueue {
  enqueue(db: Db, userId: number, kind: AuthMailKind): Promise<void>;
}

/**
 * Does this account's sign-in need an e-mailed code? Its chosen method is EMAIL — whatever the
 * global TOTP switch says — except under GPOS STIG, where e-mail is no factor (NIST 800-63B).
 */
export function usesEmailedCode(user: { twofactor_email?: number | null }, stig: boolean): boolean {
  return !!user.twofactor_email && !stig;
}

/** The second step of an EMAIL account's sign-in: is `token` its current mailed code? (consumed) */
export async function checkLoginCode(db: Tx, userId: number, token: string): Promise<boolean> {
  return (await checkEmailCode(db, userId, "EMAIL_2FA", token)).ok;
}
