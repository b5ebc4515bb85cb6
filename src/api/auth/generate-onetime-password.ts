import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { validationError } from "../../server/errors.js";
import { createOnetimePassword } from "../../auth/onetime.js";

export const authGenerateOnetimePassword = defineMethod({
  name: "auth.generate_onetime_password",
  description: "Generates a single-use password (valid 24 h) for a user; signing in with it requires a password change.",
  args: [arg("data", z.strictObject({ username: z.string() }))],
  returns: z.string(),
  roles: ["ACCOUNT_WRITE"],
  // A one-time password signs in as the account: only for accounts holding no role you lack.
  targets: (data) => ({ usernames: [data.username] }),
  audit: "Generate onetime password for user",
  handler: async (ctx, { username }) => {
    const db = ctx.app.store.db;
    const attr = "auth_generate_onetime_password.username";
    const user = await db.selectFrom("users").select(["id", "locked", "password_disabled", "source"]).where("username", "=", username).executeTakeFirst();
    if (!user) validationError(attr, `${username}: user does not exist.`, "auth.otp_user_not_found");
    if (user.password_disabled) validationError(attr, `${username}: password authentication is disabled for account.`, "auth.password_disabled");
    if (user.locked) validationError(attr, `${username}: account is locked.`, "auth.account_locked");
    return createOnetimePassword(db, user.id, { passwordChangeRequired: user.source !== "LDAP" });
  },
});
