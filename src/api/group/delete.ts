import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { groupDeleteOptions } from "../../accounts/inputs.js";
import { deleteGroup } from "../../accounts/groups.js";

export const groupDelete = defineMethod({
  name: "group.delete",
  description: "Deletes a local group. Its primary members move to nogroup, or are deleted with delete_users.",
  args: [arg("id", z.number().int()), arg("options", groupDeleteOptions, () => ({}))],
  returns: z.number().int(),
  roles: ["ACCOUNT_WRITE"],
  audit: (id, options, { subject }) => `Delete group ${subject ?? id}${options.delete_users ? " and all users that have this group as their primary group" : ""}`,
  handler: (ctx, id, options) => deleteGroup(ctx, id, options),
});
