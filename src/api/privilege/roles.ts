import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { queryRows } from "../../store/query-rows.js";
import { privilegeRolesList } from "../../access/roles.js";
import { queryResult } from "../../server/wire-schema.js";
import { RoleRowSchema } from "../../access/schemas.js";

export const privilegeRoles = defineMethod({
  name: "privilege.roles",
  description: "The role catalogue: {name, title, includes, builtin, stig}; filter builtin=false for the four compound roles.",
  args: [arg("filters", z.array(z.any()), () => []), arg("options", z.record(z.string(), z.any()), () => ({}))],
  returns: queryResult(RoleRowSchema),
  authorizationRequired: false,
  handler: (_ctx, filters, options) => queryRows(privilegeRolesList(), filters, options),
});
