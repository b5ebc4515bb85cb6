import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { passwordEnabledMembers } from "../../accounts/admins.js";

export const groupHasPasswordEnabledUser = defineMethod({
  name: "group.has_password_enabled_user",
  description: "Whether any user whose primary or auxiliary group has one of `gids` (except `exclude_user_ids`) can log in with a password.",
  args: [arg("gids", z.array(z.number().int())), arg("exclude_user_ids", z.array(z.number().int()), () => [])],
  returns: z.boolean(),
  roles: ["ACCOUNT_READ"],
  handler: async (ctx, gids, exclude) => (await passwordEnabledMembers(ctx.app.store.db, gids, exclude)).length > 0,
});
