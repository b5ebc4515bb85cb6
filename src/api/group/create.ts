import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { groupCreateSchema } from "../../accounts/inputs.js";
import { createGroup } from "../../accounts/groups.js";

export const groupCreate = defineMethod({
  name: "group.create",
  description: "Creates a local group; returns its id.",
  args: [arg("group_create", groupCreateSchema)],
  returns: z.number().int(),
  roles: ["ACCOUNT_WRITE"],
  audit: (data) => `Create group ${data.name}`,
  handler: (ctx, data) => createGroup(ctx, data),
});
