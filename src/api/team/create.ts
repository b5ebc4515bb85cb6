import { arg, defineMethod } from "../method.js";
import { TeamEntrySchema, teamCreateSchema } from "../../fleet/access-schemas.js";
import { createTeam } from "../../fleet/teams.js";

export const teamCreate = defineMethod({
  name: "team.create",
  description: "Creates a team; returns its entry. A FLEET_WRITE caller who is not an administrator may grant only access it holds itself.",
  args: [arg("team_create", teamCreateSchema)],
  returns: TeamEntrySchema,
  roles: ["FLEET_WRITE"],
  audit: (data, { subject }) => `Create team ${subject ?? data.name}`,
  handler: (ctx, data) => createTeam(ctx, data),
});
