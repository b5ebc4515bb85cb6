import { z } from "zod";
import { arg, defineMethod } from "../../method.js";
import { systemStatus } from "../../../fleet/systems.js";
import { FleetSystemStatusSchema } from "../../../fleet/system-schemas.js";

export const fleetSystemStatus = defineMethod({
  name: "fleet.system.status",
  description:
    "Checks a managed system now over its pooled connection (ignoring the poller's back-off) and returns reachable, version, latency and the last error (e.g. key refused). A system the caller may not see does not exist for it.",
  args: [arg("id", z.number().int())],
  returns: FleetSystemStatusSchema,
  authorizationRequired: false,
  fleetUser: true,
  handler: (ctx, id) => systemStatus(ctx, id),
});
