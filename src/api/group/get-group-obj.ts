import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { getGroupObj } from "../../accounts/nss.js";
import { GroupObjSchema } from "../../accounts/schemas.js";

export const groupGetGroupObj = defineMethod({
  name: "group.get_group_obj",
  description: "The group(5)-style record of a group by name or gid ({gr_name, gr_gid, gr_mem, sid, source, local}).",
  args: [arg("data", z.strictObject({ groupname: z.string().nullable().optional(), gid: z.number().int().nullable().optional(), sid_info: z.boolean().optional() }), () => ({}))],
  returns: GroupObjSchema,
  roles: ["ACCOUNT_READ"],
  handler: (ctx, data) => getGroupObj(ctx.app.store.db, data),
});
