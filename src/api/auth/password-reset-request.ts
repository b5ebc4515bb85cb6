import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { requestPasswordReset } from "../../auth/password-reset.js";

export const authPasswordResetRequest = defineMethod({
  name: "auth.password_reset.request",
  description:
    "Forgot password: mails a single-use reset code (valid 15 minutes, 5 tries) to the account's verified e-mail address; " +
    "sign in with the user name and that code, then set a new password. Always answers true at once, whether or not the " +
    "account exists or can reset (nothing is sent without a verified address; directory accounts get a note to reset in " +
    "their directory). Limited to 5 mails per account an hour and per source.",
  args: [arg("data", z.strictObject({ username: z.string().min(1).max(64) }))],
  returns: z.literal(true),
  authenticationRequired: false,
  audit: (data) => `Password reset request: ${data.username}`,
  handler: (ctx, { username }) => requestPasswordReset(ctx.app, ctx.conn, username),
});
