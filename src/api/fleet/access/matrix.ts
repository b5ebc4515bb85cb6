import { z } from "zod";
import { arg, defineMethod } from "../../method.js";
import { timestamp } from "../../../server/wire-schema.js";
import { accessMatrixJob } from "../../../fleet/matrix.js";

export const fleetAccessMatrix = defineMethod({
  name: "fleet.access.matrix",
  description:
    "Exports every (user, system) pair that has access, with its level and deciding grant, for access reviews (a job with progress). The file is fetched once with GET <url> on this server, while the session that started the job lives, within 10 minutes.",
  args: [arg("options", z.strictObject({ format: z.enum(["CSV", "JSON"]).default("CSV") }), () => ({ format: "CSV" as const }))],
  returns: z.object({
    format: z.enum(["CSV", "JSON"]),
    pairs: z.number().int().describe("Pairs written."),
    url: z.string().describe("/_download/<job id>/<token>: one GET, bound to the job and the session."),
    expires_at: timestamp,
  }),
  roles: ["FLEET_READ"],
  job: true,
  audit: (options) => `Export the fleet access matrix (${options.format})`,
  handler: (ctx, options) => accessMatrixJob(ctx, options.format),
});
