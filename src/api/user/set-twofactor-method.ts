import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { setTwofactorMethod } from "../../auth/email-verification.js";

export const userSetTwofactorMethod = defineMethod({
  name: "user.set_twofactor_method",
  description:
    "Chooses e-mailed sign-in codes (EMAIL) or none (null) as a user's second factor. EMAIL needs a verified e-mail address, is " +
    "refused in GPOS STIG mode, and moving a TOTP user to it needs a current TOTP code (`otp_token`); TOTP remains the recommended " +
    "method (enrol it with user.renew_2fa_secret). Your own without a role; another user's needs ACCOUNT_WRITE and every role that user holds.",
  args: [arg("id", z.number().int()), arg("data", z.strictObject({ method: z.enum(["EMAIL"]).nullable(), otp_token: z.string().max(16).nullable().default(null) }))],
  returns: z.enum(["TOTP", "EMAIL"]).nullable(),
  owner: "self-or-role",
  roles: ["ACCOUNT_WRITE"],
  targets: (id) => ({ users: [id] }),
  secretArgs: ["data.otp_token"],
  fleetUser: true,
  audit: (id, data, facts) => `Set two-factor method of ${facts.subject ?? `user ${id}`} to ${data.method ?? "none"}`,
  handler: (ctx, id, { method, otp_token }) => setTwofactorMethod(ctx, id, method, otp_token, "user_set_twofactor_method"),
});
