import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { getUserObj } from "../../accounts/nss.js";
import { UserObjSchema } from "../../accounts/schemas.js";

export const userGetUserObj = defineMethod({
  name: "user.get_user_obj",
  description: "The passwd-style record of a user by username or uid ({pw_name, pw_gecos, pw_dir, pw_shell, pw_uid, pw_gid, grouplist, sid, source, local}).",
  args: [
    arg(
      "data",
      z.strictObject({
        username: z.string().nullable().optional(),
        uid: z.number().int().nullable().optional(),
        get_groups: z.boolean().optional(),
        sid_info: z.boolean().optional(),
      }),
      () => ({}),
    ),
  ],
  returns: UserObjSchema,
  roles: ["ACCOUNT_READ"],
  handler: (ctx, data) => getUserObj(ctx.app.store.db, data),
});
