import { z } from "zod";
import { defineMethod } from "../method.js";
import { assuranceLevel, LEVEL_LIMITS } from "../../auth/policy.js";

export const authMechanismChoices = defineMethod({
  name: "auth.mechanism_choices",
  description: "Login mechanisms allowed at the current authenticator assurance level.",
  args: [],
  returns: z.array(z.string()),
  authenticationRequired: false,
  handler: async (ctx) => {
    const level = assuranceLevel(await ctx.app.auth.security());
    const choices = LEVEL_LIMITS[level].mechanisms;
    // Sessions that cannot mint tokens are not offered TOKEN_PLAIN.
    return ctx.session?.attributes.includes("OTPW") ? choices.filter((m) => m !== "TOKEN_PLAIN") : [...choices];
  },
});
