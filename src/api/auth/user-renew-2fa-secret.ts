import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { validationError } from "../../server/errors.js";
import { newTotpSecret, provisioningUri } from "../../auth/totp.js";
import { userEntryById } from "../../accounts/user-entry.js";
import { changeReason } from "../../accounts/context.js";
import { UserWithTwofactorSchema } from "../../accounts/schemas.js";

export const userRenew2faSecret = defineMethod({
  name: "user.renew_2fa_secret",
  description: "Creates a new TOTP secret for a user (yourself, or anyone as FULL_ADMIN); returns the user entry with twofactor_config.",
  args: [
    arg("username", z.string()),
    arg(
      "twofactor_options",
      z.strictObject({ otp_digits: z.number().int().min(6).max(8).optional(), interval: z.union([z.literal(30), z.literal(60)]).optional() }),
      () => ({}),
    ),
  ],
  // Your own secret without a role; another account's needs FULL_ADMIN (and every role it holds).
  returns: UserWithTwofactorSchema,
  owner: "self-or-role",
  roles: [],
  targets: (username) => ({ usernames: [username] }),
  audit: (username) => `Renew two-factor authentication secret: ${username}`,
  secretFields: ["unixhash", "smbhash", "password_history"],
  secretsRole: "ACCOUNT_WRITE",
  handler: async (ctx, username, opts) => {
    const db = ctx.app.store.db;
    const user = await db.selectFrom("users").select(["id", "twofactor_digits", "twofactor_interval"]).where("username", "=", username).executeTakeFirst();
    if (!user) validationError("username", `${username}: user does not exist.`, "user.not_found");
    const secret = newTotpSecret();
    const digits = opts.otp_digits ?? user.twofactor_digits ?? 6;
    const interval = opts.interval ?? user.twofactor_interval ?? 30;
    await db.updateTable("users").set({ twofactor_secret: secret, twofactor_digits: digits, twofactor_interval: interval }).where("id", "=", user.id).execute();
    ctx.app.accountsChanged(changeReason("user.renew_2fa_secret", [user.id], []));
    const entry = await userEntryById(db, user.id);
    return {
      ...entry,
      twofactor_config: { provisioning_uri: provisioningUri(username, secret, digits, interval), secret_configured: true, interval, otp_digits: digits },
    };
  },
});
