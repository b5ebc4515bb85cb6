import { arg, defineMethod } from "../method.js";
import { getUserObj, userObjQuerySchema } from "../../accounts/nss.js";
import { UserObjSchema } from "../../accounts/schemas.js";

export const userGetUserObj = defineMethod({
  name: "user.get_user_obj",
  description: "The passwd-style record of a user by username or uid ({pw_name, pw_gecos, pw_dir, pw_shell, pw_uid, pw_gid, grouplist, sid, source, local}).",
  args: [arg("data", userObjQuerySchema, () => ({}))],
  returns: UserObjSchema,
  roles: ["ACCOUNT_READ"],
  handler: (ctx, data) => getUserObj(ctx.app.store.db, data),
});
