import { z } from "zod";
import { arg, defineMethod } from "../../method.js";
import { SystemGroupEntrySchema } from "../../../fleet/access-schemas.js";
import { getSystemGroup } from "../../../fleet/system-groups.js";

export const fleetSystemGroupGetInstance = defineMethod({
  name: "fleet.system_group.get_instance",
  description: "One system group by id.",
  args: [arg("id", z.number().int())],
  returns: SystemGroupEntrySchema,
  roles: ["FLEET_READ"],
  handler: (ctx, id) => getSystemGroup(ctx, id),
});
