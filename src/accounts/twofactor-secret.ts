// user.renew_2fa_secret and user.unset_2fa_secret: a user's TOTP secret, created anew or removed.

import { CallError, validationError } from "../server/errors.js";
import { newTotpSecret, provisioningUri } from "../auth/totp.js";
import { userEntryById } from "./user-entry.js";
import { changeReason, type AccountsApp } from "./context.js";

async function userByName(app: Pick<AccountsApp, "store">, username: string) {
  const user = await app.store.db.selectFrom("users").select(["id", "twofactor_digits", "twofactor_interval"]).where("username", "=", username).executeTakeFirst();
  if (!user) validationError("username", `${username}: user does not exist.`, "user.not_found");
  return user;
}

/** A new secret (digits and interval kept unless given); the user entry with its twofactor_config. */
export async function renewTwoFactorSecret(app: Pick<AccountsApp, "store" | "accountsChanged">, username: string, opts: { otp_digits?: number; interval?: number }) {
  const user = await userByName(app, username);
  const secret = newTotpSecret();
  const digits = opts.otp_digits ?? user.twofactor_digits ?? 6;
  const interval = opts.interval ?? user.twofactor_interval ?? 30;
  await app.store.db.updateTable("users").set({ twofactor_secret: secret, twofactor_digits: digits, twofactor_interval: interval }).where("id", "=", user.id).execute();
  app.accountsChanged(changeReason("user.renew_2fa_secret", [user.id], []));
  const entry = await userEntryById(app.store.db, user.id);
  return {
    ...entry,
    twofactor_config: { provisioning_uri: provisioningUri(username, secret, digits, interval), secret_configured: true, interval, otp_digits: digits },
  };
}

/** Remove the secret; refused in STIG mode, where two-factor authentication is mandatory. */
export async function unsetTwoFactorSecret(app: Pick<AccountsApp, "store" | "accountsChanged"> & { readonly auth: { stig(): Promise<boolean> } }, username: string): Promise<void> {
  if (await app.auth.stig()) {
    throw new CallError("Two-factor authentication may not be removed in General Purpose OS STIG compatibility mode.", "auth.twofactor_removal_stig");
  }
  const user = await userByName(app, username);
  await app.store.db.updateTable("users").set({ twofactor_secret: null }).where("id", "=", user.id).execute();
  app.accountsChanged(changeReason("user.unset_2fa_secret", [user.id], []));
}
