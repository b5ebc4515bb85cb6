// E-mail verification and the choice of second factor (seeds 002/003): setting or changing an
// account's address un-verifies it and mails a code to it; user.verify_email takes the code back
// (the account itself, or an administrator pasting it as in seed 002). Only a verified address
// allows the emailed second factor (twofactor_email, shown as twofactor_method EMAIL). Emailed
// codes are a compatibility mode: TOTP stays the recommended method, a TOTP account moves to
// e-mail only with a current TOTP code, and GPOS STIG mode refuses e-mail as a factor.

import type { Db } from "../store/db.js";
import { CallError, type ValidationErrors, instanceNotFound, validationError } from "../server/errors.js";
import { checkEmailCode, dropEmailCodes, type MailQueue } from "./email-codes.js";
import { securityConfig, twoFactorConfig } from "./policy.js";
import { verifyTotp } from "./totp.js";

export interface EmailContext {
  readonly store: { db: Db };
  readonly mail: MailQueue;
}

/** A call acting on an account: the application, and the account's name for the audit label. */
export interface EmailCallContext {
  app: EmailContext;
  auditSubject?: string;
}

export type TwofactorMethod = "TOTP" | "EMAIL" | null;

/** An account's second-factor method as stored (EMAIL wins: switching to it removes the TOTP secret). */
export function twofactorMethodOf(row: { twofactor_email: number | boolean; twofactor_secret: string | null }): TwofactorMethod {
  return row.twofactor_email ? "EMAIL" : row.twofactor_secret ? "TOTP" : null;
}

/** user.update: an EMAIL account keeps its address until it chooses another method (no silent lock-out). */
export function checkEmailChange(v: ValidationErrors, attr: string, row: { email: string | null; twofactor_email: number }, next: string | null | undefined): void {
  if (row.twofactor_email && (next || null) !== (row.email || null)) {
    v.add(attr, "This account receives its second factor by e-mail: choose another two-factor method before changing the address.", "user.email_twofactor_in_use");
  }
}

/** The row change that goes with a new address: not verified any more. */
export function emailChangeColumns(current: string | null, next: string | null | undefined): { email_verified?: 0 } {
  return (next || null) !== (current || null) ? { email_verified: 0 } : {};
}

/** After a committed create or update that set an address: mail a verification code when it is unverified. */
export async function sendEmailVerification(app: EmailContext, userId: number): Promise<void> {
  const u = await app.store.db.selectFrom("users").select(["email", "email_verified"]).where("id", "=", userId).executeTakeFirst();
  if (!u?.email || u.email_verified) return;
  await dropEmailCodes(app.store.db, userId, "EMAIL_VERIFY");
  await app.mail.enqueue(app.store.db, userId, "VERIFY_EMAIL");
}

const CODE_MESSAGES = {
  INVALID: ["The code is wrong, was already used, or none was sent.", "email_code.invalid"],
  EXPIRED: ["The code has expired: save the address again for a new one.", "email_code.expired"],
  TOO_MANY: ["Too many wrong tries: save the address again for a new code.", "email_code.too_many_tries"],
} as const;

/** user.verify_email: the code mailed to the account's current address marks it verified. */
export async function verifyEmail(ctx: EmailCallContext, id: number, code: string, attr: string): Promise<{ id: number; email: string; email_verified: true }> {
  const db = ctx.app.store.db;
  const u = await db.selectFrom("users").select(["id", "username", "email", "email_verified"]).where("id", "=", id).executeTakeFirst();
  if (!u) instanceNotFound("User", id, "user.not_found");
  ctx.auditSubject = u.username;
  if (!u.email) validationError(attr, "The account has no e-mail address to verify.", "user.no_email");
  const r = await checkEmailCode(db, id, "EMAIL_VERIFY", code);
  if (!r.ok) validationError(attr, CODE_MESSAGES[r.reason][0], CODE_MESSAGES[r.reason][1]);
  // The code is bound to the address it was sent to.
  if (r.data.email !== u.email) validationError(attr, CODE_MESSAGES.INVALID[0], "email_code.invalid");
  await db.updateTable("users").set({ email_verified: 1 }).where("id", "=", id).where("email", "=", u.email).execute();
  return { id, email: u.email, email_verified: true };
}

/**
 * user.set_twofactor_method: EMAIL (needs a verified address, not under STIG; from TOTP only with
 * a current TOTP code, and the TOTP secret goes) or null (no emailed codes; a TOTP secret stays —
 * user.unset_2fa_secret removes that). TOTP itself is enrolled with user.renew_2fa_secret.
 */
export async function setTwofactorMethod(ctx: EmailCallContext, id: number, method: "EMAIL" | null, otpToken: string | null, attr: string): Promise<TwofactorMethod> {
  const db = ctx.app.store.db;
  const u = await db
    .selectFrom("users")
    .select(["id", "username", "email", "email_verified", "twofactor_email", "twofactor_secret", "twofactor_digits", "twofactor_interval"])
    .where("id", "=", id)
    .executeTakeFirst();
  if (!u) instanceNotFound("User", id, "user.not_found");
  ctx.auditSubject = u.username;
  if (method === null) {
    const sec = await securityConfig(db);
    if (sec.enable_gpos_stig && u.twofactor_email) throw new CallError("Two-factor authentication may not be removed in General Purpose OS STIG compatibility mode.", "auth.twofactor_removal_stig");
    await db.updateTable("users").set({ twofactor_email: 0 }).where("id", "=", id).execute();
    return twofactorMethodOf({ ...u, twofactor_email: 0 });
  }
  if ((await securityConfig(db)).enable_gpos_stig) {
    throw new CallError("E-mail is not a second factor in General Purpose OS STIG compatibility mode (NIST 800-63B): use TOTP.", "user.twofactor_email_stig");
  }
  if (!u.email || !u.email_verified) validationError(`${attr}.method`, "Verify the account's e-mail address first (user.verify_email).", "user.email_not_verified");
  if (u.twofactor_secret) {
    const tf = await twoFactorConfig(db);
    if (!otpToken || !(await verifyTotp(db, u, otpToken, tf.window))) {
      validationError(`${attr}.otp_token`, "A current code from the account's authenticator app is required to move it from TOTP to e-mailed codes.", "user.twofactor_totp_code_required");
    }
  }
  await db.updateTable("users").set({ twofactor_email: 1, twofactor_secret: null }).where("id", "=", id).execute();
  return "EMAIL";
}
