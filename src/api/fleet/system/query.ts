import { z } from "zod";
import { arg, defineMethod } from "../../method.js";
import { queryResult } from "../../../server/wire-schema.js";
import { querySystems } from "../../../fleet/systems.js";
import { FleetSystemSchema, SYSTEM_SECRET_FIELDS } from "../../../fleet/system-schemas.js";

export const fleetSystemQuery = defineMethod({
  name: "fleet.system.query",
  description:
    "Lists managed systems with their status and the caller's access, with query-filters and query-options. Administrators and FLEET_READ see every system; anyone else only the systems they have access to. Keys are never returned.",
  args: [arg("filters", z.array(z.any()), () => []), arg("options", z.record(z.string(), z.any()), () => ({}))],
  returns: queryResult(FleetSystemSchema),
  // Any session, fleet users included: the domain function lists only what the caller may see.
  authorizationRequired: false,
  fleetUser: true,
  secretFields: SYSTEM_SECRET_FIELDS,
  handler: (ctx, filters, options) => querySystems(ctx, filters, options),
});
