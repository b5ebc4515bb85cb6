import { z } from "zod";
import { arg, defineMethod } from "../../method.js";
import { deleteSystem } from "../../../fleet/systems.js";

export const fleetSystemDelete = defineMethod({
  name: "fleet.system.delete",
  description: "Removes a managed system, with every grant on it (user and team entries) and its group memberships; its connections are closed.",
  args: [arg("id", z.number().int())],
  returns: z.literal(true),
  roles: ["FLEET_WRITE"],
  audit: (id, facts) => `Delete fleet system ${facts.subject ?? id}`,
  handler: (ctx, id) => deleteSystem(ctx, id),
});
