// user.renew_2fa_secret and user.unset_2fa_secret: a user's TOTP secret, created anew or removed;
// user.stage_2fa_secret and user.confirm_2fa_secret: a new secret that is turned on only once a
// code from it is confirmed.

import { CallError, validationError } from "../server/errors.js";
import { randomBytes } from "node:crypto";
import { newTotpSecret, provisioningUri, verifyTotp } from "../auth/totp.js";
import { userEntryById } from "./user-entry.js";
import type { AccountsApp } from "./context.js";
import { changeOf } from "../store/change-event.js";
import { commitChange, recordChange } from "../store/changes.js";

async function userByName(app: Pick<AccountsApp, "store">, username: string) {
  const user = await app.store.db.selectFrom("users").select(["id", "twofactor_digits", "twofactor_interval"]).where("username", "=", username).executeTakeFirst();
  if (!user) validationError("username", `${username}: user does not exist.`, "user.not_found");
  return user;
}

/** A new secret (digits and interval kept unless given); the user entry with its twofactor_config. */
export async function renewTwoFactorSecret(app: Pick<AccountsApp, "store" | "changed">, username: string, opts: { otp_digits?: number; interval?: number }) {
  const user = await userByName(app, username);
  const secret = newTotpSecret();
  const digits = opts.otp_digits ?? user.twofactor_digits ?? 6;
  const interval = opts.interval ?? user.twofactor_interval ?? 30;
  await commitChange(app, changeOf({ users: [user.id] }), (trx) =>
    trx.updateTable("users").set({ twofactor_secret: secret, twofactor_digits: digits, twofactor_interval: interval }).where("id", "=", user.id).execute(),
  );
  const entry = await userEntryById(app.store.db, user.id);
  return {
    ...entry,
    twofactor_config: { provisioning_uri: provisioningUri(username, secret, digits, interval), secret_configured: true, interval, otp_digits: digits },
  };
}

/** Remove the secret; refused in STIG mode, where two-factor authentication is mandatory. */
export async function unsetTwoFactorSecret(app: Pick<AccountsApp, "store" | "changed"> & { readonly auth: { stig(): Promise<boolean> } }, username: string): Promise<void> {
  if (await app.auth.stig()) {
    throw new CallError("Two-factor authentication may not be removed in General Purpose OS STIG compatibility mode.", "auth.twofactor_removal_stig");
  }
  const user = await userByName(app, username);
  await commitChange(app, changeOf({ users: [user.id] }), (trx) => trx.updateTable("users").set({ twofactor_secret: null }).where("id", "=", user.id).execute());
}

// ---- staged setup (a departure: docs/departures.md "Two-factor setup is confirmed") ------------
//
// user.renew_2fa_secret replaces the secret at once (the reference's behaviour, kept for its
// clients): an authenticator that was never scanned then locks its owner out. The web UI stages
// instead: user.stage_2fa_secret keeps a new secret aside (sealed, in onetime_codes, for
// PENDING_2FA_SETUP_MS), and user.confirm_2fa_secret turns it on only when a code from it is
// given. Until then the old secret (or none) stays in force.

const PENDING_KIND = "TOTP_PENDING";
const SEAL_PURPOSE = "user.twofactor_pending";
export const PENDING_2FA_SETUP_MS = 15 * 60_000;

interface Sealer {
  readonly secretBox: { seal(purpose: string, plaintext: string): string; open(purpose: string, sealed: string): string };
}

/** Keep a new secret aside for `username`; the previous staged one (if any) is dropped. */
export async function stageTwoFactorSecret(app: Pick<AccountsApp, "store"> & Sealer, username: string, opts: { otp_digits?: number; interval?: number }) {
  const user = await userByName(app, username);
  const secret = newTotpSecret();
  const digits = opts.otp_digits ?? user.twofactor_digits ?? 6;
  const interval = opts.interval ?? user.twofactor_interval ?? 30;
  const now = Date.now();
  const expires = now + PENDING_2FA_SETUP_MS;
  await app.store.db.transaction().execute(async (tx) => {
    await tx.deleteFrom("onetime_codes").where("kind", "=", PENDING_KIND).where("user_id", "=", user.id).execute();
    await tx
      .insertInto("onetime_codes")
      .values({
        kind: PENDING_KIND,
        user_id: user.id,
        code_hash: randomBytes(32).toString("hex"),
        data: JSON.stringify({ secret: app.secretBox.seal(SEAL_PURPOSE, secret), digits, interval, username }),
        created_at: now,
        expires_at: expires,
        used: 0,
      })
      .execute();
  });
  return { provisioning_uri: provisioningUri(username, secret, digits, interval), otp_digits: digits, interval, expires_at: new Date(expires) };
}

/**
 * Turn the staged secret on when `otp` is a current code from it (the code is consumed, so it
 * cannot be replayed at sign-in); refused when nothing is staged (or it expired) or the code is
 * wrong — the staged secret then stays, so the user can try the next code.
 */
export async function confirmTwoFactorSecret(app: Pick<AccountsApp, "store" | "changed"> & Sealer, username: string, otp: string, window: number) {
  const user = await userByName(app, username);
  const db = app.store.db;
  const row = await db.selectFrom("onetime_codes").select(["id", "data", "expires_at"]).where("kind", "=", PENDING_KIND).where("user_id", "=", user.id).executeTakeFirst();
  const staged = row && Number(row.expires_at) > Date.now() ? (JSON.parse(row.data) as { secret: string; digits: number; interval: number; username: string }) : null;
  if (!row || !staged || staged.username !== username) {
    validationError("otp_token", "No two-factor setup is in progress for this account (or it expired): start again.", "user.twofactor_setup_not_started");
  }
  const secret = app.secretBox.open(SEAL_PURPOSE, staged.secret);
  const candidate = { id: user.id, username, twofactor_secret: secret, twofactor_digits: staged.digits, twofactor_interval: staged.interval };
  if (!(await verifyTotp(db, candidate, otp.trim(), window))) {
    validationError("otp_token", "The code does not match the new secret: enter the code your authenticator shows now.", "user.twofactor_code_invalid");
  }
  await db.transaction().execute(async (tx) => {
    await tx.updateTable("users").set({ twofactor_secret: secret, twofactor_digits: staged.digits, twofactor_interval: staged.interval }).where("id", "=", user.id).execute();
    await tx.deleteFrom("onetime_codes").where("id", "=", row.id).execute();
    await recordChange(tx, changeOf({ users: [user.id] }));
  });
  app.changed(changeOf({ users: [user.id] }));
  const entry = await userEntryById(db, user.id);
  return {
    ...entry,
    twofactor_config: { provisioning_uri: provisioningUri(username, secret, staged.digits, staged.interval), secret_configured: true, interval: staged.interval, otp_digits: staged.digits },
  };
}
