import { z } from "zod";
import { arg, defineMethod } from "../../method.js";
import { queryResult } from "../../../server/wire-schema.js";
import { SystemGroupEntrySchema } from "../../../fleet/access-schemas.js";
import { querySystemGroups } from "../../../fleet/system-groups.js";

export const fleetSystemGroupQuery = defineMethod({
  name: "fleet.system_group.query",
  description: "Lists system groups, with query-filters and query-options.",
  args: [arg("filters", z.array(z.any()), () => []), arg("options", z.record(z.string(), z.any()), () => ({}))],
  returns: queryResult(SystemGroupEntrySchema),
  roles: ["FLEET_READ"],
  handler: (ctx, filters, options) => querySystemGroups(ctx, filters, options),
});
