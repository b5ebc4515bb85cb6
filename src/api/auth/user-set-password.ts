import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { setPassword, setPasswordSchema } from "../../auth/set-password.js";

const ARG = "user.set_password";

export const userSetPassword = defineMethod({
  name: "user.set_password",
  fleetUser: true,
  description: "Changes a password: your own (old password required unless signed in with a one-time password) or, as FULL_ADMIN, anyone's.",
  args: [arg(ARG, setPasswordSchema)],
  returns: z.null(),
  // Your own password without a role; another account's needs FULL_ADMIN (and every role it holds).
  owner: "self-or-role",
  roles: [],
  targets: (data) => ({ usernames: [data.username] }),
  audit: (data) => `Set account password ${data.username}`,
  secretArgs: ["user.set_password.old_password", "user.set_password.new_password"],
  handler: (ctx, data) => setPassword(ctx, data),
});
