import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { TeamEntrySchema, teamUpdateSchema } from "../../fleet/access-schemas.js";
import { updateTeam } from "../../fleet/teams.js";

export const teamUpdate = defineMethod({
  name: "team.update",
  description: "Updates a team (lists given replace the current ones); returns its entry. A FLEET_WRITE caller who is not an administrator may change only access it holds itself.",
  args: [arg("id", z.number().int()), arg("team_update", teamUpdateSchema, () => ({}))],
  returns: TeamEntrySchema,
  roles: ["FLEET_WRITE"],
  audit: (id, _data, { subject }) => `Update team ${subject ?? id}`,
  handler: (ctx, id, data) => updateTeam(ctx, id, data),
});
