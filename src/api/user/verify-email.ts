import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { verifyEmail } from "../../auth/email-verification.js";

export const userVerifyEmail = defineMethod({
  name: "user.verify_email",
  description:
    "Confirms a user's e-mail address with the code mailed to it when the address was set (valid 10 minutes, single use, 5 tries). " +
    "Your own without a role; another user's (an administrator pasting the code, seed 002) needs ACCOUNT_WRITE and every role that user holds.",
  args: [arg("id", z.number().int()), arg("data", z.strictObject({ code: z.string().min(1).max(32) }))],
  returns: z.object({ id: z.number().int(), email: z.string(), email_verified: z.literal(true) }),
  owner: "self-or-role",
  roles: ["ACCOUNT_WRITE"],
  targets: (id) => ({ users: [id] }),
  secretArgs: ["data.code"],
  fleetUser: true,
  audit: (id, _data, facts) => `Verify e-mail address of ${facts.subject ?? `user ${id}`}`,
  handler: (ctx, id, { code }) => verifyEmail(ctx, id, code, "user_verify_email.code"),
});
