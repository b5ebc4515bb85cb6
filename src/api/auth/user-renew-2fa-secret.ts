import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { renewTwoFactorSecret } from "../../accounts/twofactor-secret.js";
import { UserWithTwofactorSchema } from "../../accounts/schemas.js";

export const userRenew2faSecret = defineMethod({
  name: "user.renew_2fa_secret",
  fleetUser: true,
  description: "Creates a new TOTP secret for a user (yourself, or anyone as FULL_ADMIN); returns the user entry with twofactor_config.",
  args: [
    arg("username", z.string()),
    arg("twofactor_options", z.strictObject({ otp_digits: z.number().int().min(6).max(8).optional(), interval: z.union([z.literal(30), z.literal(60)]).optional() }), () => ({})),
  ],
  // Your own secret without a role; another account's needs FULL_ADMIN (and every role it holds).
  returns: UserWithTwofactorSchema,
  owner: "self-or-role",
  roles: [],
  targets: (username) => ({ usernames: [username] }),
  audit: (username) => `Renew two-factor authentication secret: ${username}`,
  secretFields: ["unixhash", "smbhash", "password_history"],
  // The new secret is shown to set up the authenticator, never again.
  showOnce: ["twofactor_config"],
  secretsRole: "ACCOUNT_WRITE",
  handler: (ctx, username, opts) => renewTwoFactorSecret(ctx.app, username, opts),
});
