import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { confirmTwoFactorSecret } from "../../accounts/twofactor-secret.js";
import { twoFactorConfig } from "../../auth/policy.js";
import { UserWithTwofactorSchema } from "../../accounts/schemas.js";

export const userConfirm2faSecret = defineMethod({
  name: "user.confirm_2fa_secret",
  description: "Turns on the TOTP secret staged by user.stage_2fa_secret when otp_token is a current code from it; returns the user entry with twofactor_config (Gatehouse-specific).",
  args: [arg("username", z.string()), arg("otp_token", z.string().max(16))],
  returns: UserWithTwofactorSchema,
  owner: "self-or-role",
  roles: [],
  targets: (username) => ({ usernames: [username] }),
  audit: (username) => `Confirm two-factor authentication secret: ${username}`,
  secretArgs: ["otp_token"],
  secretFields: ["unixhash", "smbhash", "password_history"],
  secretsRole: "ACCOUNT_WRITE",
  handler: async (ctx, username, otp) => confirmTwoFactorSecret(ctx.app, username, otp, (await twoFactorConfig(ctx.app.store.db)).window),
});
