import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { queryRows } from "../../store/query-rows.js";
import { privilegeEntries } from "../../access/privileges.js";
import { queryResult } from "../../server/wire-schema.js";
import { PrivilegeEntrySchema } from "../../access/schemas.js";

export const privilegeQuery = defineMethod({
  name: "privilege.query",
  description: "Lists privileges (roles granted to local and directory groups), with query-filters and query-options.",
  args: [arg("filters", z.array(z.any()), () => []), arg("options", z.record(z.string(), z.any()), () => ({}))],
  returns: queryResult(PrivilegeEntrySchema),
  roles: ["PRIVILEGE_READ"],
  handler: async (ctx, filters, options) => queryRows(await privilegeEntries(ctx.app.store.db), filters, options),
});
