import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { issueOnetimePassword } from "../../auth/onetime.js";

export const authGenerateOnetimePassword = defineMethod({
  name: "auth.generate_onetime_password",
  description: "Generates a single-use password (valid 24 h) for a user; signing in with it requires a password change.",
  args: [arg("data", z.strictObject({ username: z.string() }))],
  returns: z.string(),
  showOnce: true,
  roles: ["ACCOUNT_WRITE"],
  // A one-time password signs in as the account: only for accounts holding no role you lack.
  targets: (data) => ({ usernames: [data.username] }),
  audit: "Generate onetime password for user",
  handler: (ctx, { username }) => issueOnetimePassword(ctx.app.store.db, username, "auth_generate_onetime_password.username"),
});
