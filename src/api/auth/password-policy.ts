import { z } from "zod";
import { defineMethod } from "../method.js";
import { COMPLEXITY_CLASSES, passwordPolicy } from "../../auth/policy.js";

export const authPasswordPolicy = defineMethod({
  name: "auth.password_policy",
  fleetUser: true,
  description: "The password rules of system.security (length, character classes, history, ages) for any signed-in user, so a form can check a new password before sending it (Gatehouse-specific).",
  args: [],
  returns: z.object({
    min_password_length: z.number().int().nullable().describe("Fewest characters (null: no minimum)."),
    password_complexity_ruleset: z.array(z.enum(COMPLEXITY_CLASSES)).nullable().describe("Character classes a password must contain."),
    password_history_length: z.number().int().nullable().describe("Recent passwords that may not be reused."),
    min_password_age: z.number().int().nullable().describe("Days before a password may be changed again."),
    max_password_age: z.number().int().nullable().describe("Days after which a password expires."),
  }),
  authorizationRequired: false,
  handler: (ctx) => passwordPolicy(ctx.app.store.db),
});
