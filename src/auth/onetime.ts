// One-time passwords (reference §7.6): `<n>_<6>-<6>-<6>-<6>` (24 random letters and digits),
// valid 24 h, single use. Stored hashed in the store (onetime_codes kind OTPW, n = row id) so any
// server process accepts them exactly once.

import type { Tx } from "../store/db.js";
import { validationError } from "../server/errors.js";
import { randomPassword } from "./password-hash.js";
import { safeEqual, sha256 } from "./secrets.js";

export const OTPW_TTL_MS = 24 * 3600_000;
const OTPW_RE = /^(\d+)_([A-Za-z0-9]{6}-[A-Za-z0-9]{6}-[A-Za-z0-9]{6}-[A-Za-z0-9]{6})$/;

export function looksLikeOnetimePassword(password: string): boolean {
  return OTPW_RE.test(password);
}

export async function createOnetimePassword(db: Tx, userId: number, opts: { passwordChangeRequired: boolean }): Promise<string> {
  const secret = [0, 1, 2, 3].map(() => randomPassword(6)).join("-");
  const now = Date.now();
  const row = await db
    .insertInto("onetime_codes")
    .values({
      kind: "OTPW",
      user_id: userId,
      code_hash: sha256(secret),
      data: JSON.stringify({ password_change_required: opts.passwordChangeRequired }),
      created_at: now,
      expires_at: now + OTPW_TTL_MS,
      used: 0,
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  return `${row.id}_${secret}`;
}

export type OnetimeResult = { ok: true; passwordChangeRequired: boolean } | { ok: false; reason: "INVALID" | "EXPIRED" };

/** Check and consume a one-time password of `userId`. */
export async function consumeOnetimePassword(db: Tx, userId: number, password: string, now = Date.now()): Promise<OnetimeResult> {
  const m = OTPW_RE.exec(password);
  if (!m) return { ok: false, reason: "INVALID" };
  const row = await db.selectFrom("onetime_codes").selectAll().where("id", "=", Number(m[1])).where("kind", "=", "OTPW").executeTakeFirst();
  if (!row || row.user_id !== userId || row.used || !safeEqual(row.code_hash, sha256(m[2]))) return { ok: false, reason: "INVALID" };
  if (Number(row.expires_at) <= now) return { ok: false, reason: "EXPIRED" };
  // Claim it atomically: only one login (on any process) flips `used`.
  const r = await db.updateTable("onetime_codes").set({ used: 1 }).where("id", "=", row.id).where("used", "=", 0).executeTakeFirst();
  if (Number(r.numUpdatedRows) !== 1) return { ok: false, reason: "INVALID" };
  return { ok: true, passwordChangeRequired: !!JSON.parse(row.data).password_change_required };
}

/**
 * auth.generate_onetime_password: a one-time password for `username`, refused (a validation error
 * on `attr`) for an unknown, password-disabled or locked account. Signing in with it requires a
 * password change, except for directory accounts (their password lives in the directory).
 */
export async function issueOnetimePassword(db: Tx, username: string, attr: string): Promise<string> {
  const user = await db.selectFrom("users").select(["id", "locked", "password_disabled", "source"]).where("username", "=", username).executeTakeFirst();
  if (!user) validationError(attr, `${username}: user does not exist.`, "auth.otp_user_not_found");
  if (user.password_disabled) validationError(attr, `${username}: password authentication is disabled for account.`, "auth.password_disabled");
  if (user.locked) validationError(attr, `${username}: account is locked.`, "auth.account_locked");
  return createOnetimePassword(db, user.id, { passwordChangeRequired: user.source !== "LDAP" });
}
