import { arg, defineMethod } from "../../method.js";
import { createSystem } from "../../../fleet/systems.js";
import { FleetSystemSchema, SYSTEM_SECRET_FIELDS, SystemCreateSchema } from "../../../fleet/system-schemas.js";

export const fleetSystemCreate = defineMethod({
  name: "fleet.system.create",
  description:
    "Registers a managed system. The connection is tested first (connect, TLS, log in with api_key and read_api_key); a failure is a validation error naming the reason (fleet.system_unreachable, fleet.system_tls, fleet.system_key_refused) unless `force` is true. Plain ws:// only to a loopback host. Keys are sealed at rest and never returned.",
  args: [arg("fleet_system_create", SystemCreateSchema)],
  returns: FleetSystemSchema,
  roles: ["FLEET_WRITE"],
  secretArgs: ["fleet_system_create.api_key", "fleet_system_create.read_api_key"],
  secretFields: SYSTEM_SECRET_FIELDS,
  audit: (data) => `Create fleet system ${data.name}`,
  handler: (ctx, data) => createSystem(ctx, data),
});
