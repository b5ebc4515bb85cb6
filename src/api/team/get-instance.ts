import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { TeamEntrySchema } from "../../fleet/access-schemas.js";
import { getTeam } from "../../fleet/teams.js";

export const teamGetInstance = defineMethod({
  name: "team.get_instance",
  description: "One team by id.",
  args: [arg("id", z.number().int())],
  returns: TeamEntrySchema,
  roles: ["FLEET_READ"],
  handler: (ctx, id) => getTeam(ctx, id),
});
