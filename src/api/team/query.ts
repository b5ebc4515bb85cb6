import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { queryResult } from "../../server/wire-schema.js";
import { TeamEntrySchema } from "../../fleet/access-schemas.js";
import { queryTeams } from "../../fleet/teams.js";

export const teamQuery = defineMethod({
  name: "team.query",
  description: "Lists teams, with query-filters and query-options.",
  args: [arg("filters", z.array(z.any()), () => []), arg("options", z.record(z.string(), z.any()), () => ({}))],
  returns: queryResult(TeamEntrySchema),
  roles: ["FLEET_READ"],
  handler: (ctx, filters, options) => queryTeams(ctx, filters, options),
});
