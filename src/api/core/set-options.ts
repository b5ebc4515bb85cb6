import { z } from "zod";
import { arg, defineMethod } from "../method.js";

export const coreSetOptions = defineMethod({
  name: "core.set_options",
  description: "Sets per-connection options: legacy_jobs (job calls answer with the job id), private_methods, py_exceptions.",
  args: [arg("options", z.strictObject({ legacy_jobs: z.boolean().optional(), private_methods: z.boolean().optional(), py_exceptions: z.boolean().optional() }))],
  returns: z.null(),
  authenticationRequired: false,
  rateLimit: false,
  handler: (ctx, options) => {
    Object.assign(ctx.conn.options, options);
    ctx.conn.rateLimitExempt = true;
    return null;
  },
});
