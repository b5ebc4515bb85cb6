import { z } from "zod";
import { arg, defineMethod } from "../../method.js";
import { SystemGroupEntrySchema, systemGroupUpdateSchema } from "../../../fleet/access-schemas.js";
import { updateSystemGroup } from "../../../fleet/system-groups.js";

export const fleetSystemGroupUpdate = defineMethod({
  name: "fleet.system_group.update",
  description: "Updates a system group (lists given replace the current ones); returns its entry. A FLEET_WRITE caller who is not an administrator may change only access it holds itself.",
  args: [arg("id", z.number().int()), arg("fleet_system_group_update", systemGroupUpdateSchema, () => ({}))],
  returns: SystemGroupEntrySchema,
  roles: ["FLEET_WRITE"],
  audit: (id, _data, { subject }) => `Update system group ${subject ?? id}`,
  handler: (ctx, id, data) => updateSystemGroup(ctx, id, data),
});
