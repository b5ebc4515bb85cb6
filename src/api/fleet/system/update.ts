import { z } from "zod";
import { arg, defineMethod } from "../../method.js";
import { updateSystem } from "../../../fleet/systems.js";
import { FleetSystemSchema, SYSTEM_SECRET_FIELDS, SystemUpdateSchema } from "../../../fleet/system-schemas.js";

export const fleetSystemUpdate = defineMethod({
  name: "fleet.system.update",
  description:
    "Changes a managed system; a new URL, key or trust setting is tested like fleet.system.create (unless `force`), and its pooled connections are replaced. `read_api_key: null` removes the read-only key.",
  args: [arg("id", z.number().int()), arg("fleet_system_update", SystemUpdateSchema)],
  returns: FleetSystemSchema,
  roles: ["FLEET_WRITE"],
  secretArgs: ["fleet_system_update.api_key", "fleet_system_update.read_api_key"],
  secretFields: SYSTEM_SECRET_FIELDS,
  audit: (id, _data, facts) => `Update fleet system ${facts.subject ?? id}`,
  handler: (ctx, id, data) => updateSystem(ctx, id, data),
});
