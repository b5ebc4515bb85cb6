import { z } from "zod";
import { arg, defineMethod } from "../../method.js";
import { ExplanationSchema } from "../../../fleet/access-schemas.js";
import { explainAccess } from "../../../fleet/explain.js";

const ref = z.union([z.number().int(), z.string().min(1).max(256)]);

export const fleetAccessExplain = defineMethod({
  name: "fleet.access.explain",
  description:
    "Why a user has the access it has to a system: the effective access, the level and grant that decided it, and every grant it shadowed, as data and in words. FLEET_READ explains any user; anyone else (fleet users included) only themselves, on systems they may see.",
  args: [arg("user", ref.describe("The user's id or username.")), arg("system", ref.describe("The system's id or name."))],
  returns: ExplanationSchema,
  roles: ["FLEET_READ"],
  // Any session, fleet users included: the domain function confines others to themselves.
  authorizationRequired: false,
  fleetUser: true,
  handler: (ctx, user, system) => explainAccess(ctx, user, system),
});
