import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { groupUpdateSchema } from "../../accounts/inputs.js";
import { updateGroup } from "../../accounts/groups.js";

export const groupUpdate = defineMethod({
  name: "group.update",
  description: "Updates a local group (partial; `users` replaces the member list); returns its id.",
  args: [arg("id", z.number().int()), arg("group_update", groupUpdateSchema, () => ({}))],
  returns: z.number().int(),
  roles: ["ACCOUNT_WRITE"],
  audit: (id, _data, { subject }) => `Update group ${subject ?? id}`,
  handler: (ctx, id, data) => updateGroup(ctx, id, data),
});
