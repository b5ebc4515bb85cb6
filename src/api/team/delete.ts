import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { deleteTeam } from "../../fleet/teams.js";

export const teamDelete = defineMethod({
  name: "team.delete",
  description: "Deletes a team and every grant on it.",
  args: [arg("id", z.number().int())],
  returns: z.literal(true),
  roles: ["FLEET_WRITE"],
  audit: (id, { subject }) => `Delete team ${subject ?? id}`,
  handler: (ctx, id) => deleteTeam(ctx, id),
});
