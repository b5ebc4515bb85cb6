import { arg, defineMethod } from "../method.js";
import { getGroupObj, groupObjQuerySchema } from "../../accounts/nss.js";
import { GroupObjSchema } from "../../accounts/schemas.js";

export const groupGetGroupObj = defineMethod({
  name: "group.get_group_obj",
  description: "The group(5)-style record of a group by name or gid ({gr_name, gr_gid, gr_mem, sid, source, local}).",
  args: [arg("data", groupObjQuerySchema, () => ({}))],
  returns: GroupObjSchema,
  roles: ["ACCOUNT_READ"],
  handler: (ctx, data) => getGroupObj(ctx.app.store.db, data),
});
