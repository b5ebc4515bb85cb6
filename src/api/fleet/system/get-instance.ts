import { z } from "zod";
import { arg, defineMethod } from "../../method.js";
import { systemEntry } from "../../../fleet/systems.js";
import { FleetSystemSchema, SYSTEM_SECRET_FIELDS } from "../../../fleet/system-schemas.js";

export const fleetSystemGetInstance = defineMethod({
  name: "fleet.system.get_instance",
  description: "One managed system by id, as fleet.system.query shows it (a system the caller may not see does not exist for it).",
  args: [arg("id", z.number().int())],
  returns: FleetSystemSchema,
  authorizationRequired: false,
  fleetUser: true,
  secretFields: SYSTEM_SECRET_FIELDS,
  handler: (ctx, id) => systemEntry(ctx, id),
});
