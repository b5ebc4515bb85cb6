import { arg, defineMethod } from "../../method.js";
import { SystemGroupEntrySchema, systemGroupCreateSchema } from "../../../fleet/access-schemas.js";
import { createSystemGroup } from "../../../fleet/system-groups.js";

export const fleetSystemGroupCreate = defineMethod({
  name: "fleet.system_group.create",
  description: "Creates a system group; returns its entry. A FLEET_WRITE caller who is not an administrator may grant only access it holds itself.",
  args: [arg("fleet_system_group_create", systemGroupCreateSchema)],
  returns: SystemGroupEntrySchema,
  roles: ["FLEET_WRITE"],
  audit: (data, { subject }) => `Create system group ${subject ?? data.name}`,
  handler: (ctx, data) => createSystemGroup(ctx, data),
});
