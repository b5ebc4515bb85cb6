import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { unsetTwoFactorSecret } from "../../accounts/twofactor-secret.js";

export const userUnset2faSecret = defineMethod({
  name: "user.unset_2fa_secret",
  description: "Removes a user's TOTP secret (they then sign in without a second factor).",
  args: [arg("username", z.string())],
  returns: z.null(),
  roles: ["ACCOUNT_WRITE"],
  targets: (username) => ({ usernames: [username] }),
  audit: (username) => `Unset two-factor authentication secret: ${username}`,
  handler: async (ctx, username) => {
    await unsetTwoFactorSecret(ctx.app, username);
    return null;
  },
});
