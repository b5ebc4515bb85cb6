import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { privilegeUpdateSchema } from "../../accounts/inputs.js";
import { updatePrivilege } from "../../accounts/privilege-write.js";
import { PrivilegeEntrySchema } from "../../access/schemas.js";

export const privilegeUpdate = defineMethod({
  name: "privilege.update",
  description: "Updates a privilege (built-in privileges keep their name and roles).",
  args: [arg("id", z.number().int()), arg("privilege_update", privilegeUpdateSchema)],
  returns: PrivilegeEntrySchema,
  roles: ["PRIVILEGE_WRITE"],
  audit: (id, data, { subject }) => `Update privilege ${subject ?? id}${data.name && data.name !== subject ? ` (renamed ${data.name})` : ""}`,
  handler: (ctx, id, data) => updatePrivilege(ctx, id, data),
});
