import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { deletePrivilege } from "../../accounts/privilege-write.js";

export const privilegeDelete = defineMethod({
  name: "privilege.delete",
  description: "Deletes a custom privilege.",
  args: [arg("id", z.number().int())],
  returns: z.literal(true),
  roles: ["PRIVILEGE_WRITE"],
  audit: (id, { subject }) => `Delete privilege ${subject ?? id}`,
  handler: (ctx, id) => deletePrivilege(ctx, id),
});
