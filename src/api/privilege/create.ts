import { arg, defineMethod } from "../method.js";
import { privilegeCreateSchema } from "../../accounts/inputs.js";
import { createPrivilege } from "../../accounts/privilege-write.js";
import { PrivilegeEntrySchema } from "../../access/schemas.js";

export const privilegeCreate = defineMethod({
  name: "privilege.create",
  description: "Creates a privilege granting roles to local groups (by GID) and directory groups.",
  args: [arg("privilege_create", privilegeCreateSchema)],
  returns: PrivilegeEntrySchema,
  roles: ["PRIVILEGE_WRITE"],
  audit: (data) => `Create privilege ${data.name}`,
  handler: (ctx, data) => createPrivilege(ctx, data),
});
