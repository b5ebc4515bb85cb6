import { z } from "zod";
import { arg, defineMethod } from "../../method.js";
import { deleteSystemGroup } from "../../../fleet/system-groups.js";

export const fleetSystemGroupDelete = defineMethod({
  name: "fleet.system_group.delete",
  description: "Deletes a system group and every grant on it.",
  args: [arg("id", z.number().int())],
  returns: z.literal(true),
  roles: ["FLEET_WRITE"],
  audit: (id, { subject }) => `Delete system group ${subject ?? id}`,
  handler: (ctx, id) => deleteSystemGroup(ctx, id),
});
