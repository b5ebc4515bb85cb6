import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { proxyCall } from "../../fleet/proxy.js";

export const fleetCall = defineMethod({
  name: "fleet.call",
  description:
    "Calls `method(...params)` on a managed system through the proxy, as the caller's effective access allows: READ only read methods (decided from the system's own core.get_methods), READ_WRITE any. A job method becomes a local job mirroring the remote one (the remote job id in progress.extra). Errors from the system keep their shape, with data.system = {id, name}. Every call is audited (system, method, access, result).",
  args: [arg("system", z.number().int()), arg("method", z.string().min(1).max(256)), arg("params", z.array(z.unknown()).max(64), () => [])],
  returns: z.unknown().describe("The system's result (or, for a job method with legacy_jobs, the local job id)."),
  // Any session, fleet users included: the proxy checks the caller's access to the system.
  authorizationRequired: false,
  fleetUser: true,
  // The system's arguments may hold its secrets (a password for user.create): never in logs or errors.
  // Each call is audited by the proxy itself (src/fleet/proxy.ts), its entries committed in groups.
  secretArgs: ["params"],
  handler: (ctx, system, method, params) => proxyCall(ctx, system, method, params),
});
