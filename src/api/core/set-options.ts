import { z } from "zod";
import { arg, defineMethod } from "../method.js";

export const coreSetOptions = defineMethod({
  name: "core.set_options",
  description: "Sets per-connection options: legacy_jobs (job calls answer with the job id), private_methods, py_exceptions.",
  args: [arg("options", z.strictObject({ legacy_jobs: z.boolean().optional(), private_methods: z.boolean().optional(), py_exceptions: z.boolean().optional() }))],
  returns: z.null(),
  authenticationRequired: false,
  rateLimit: false,
  // Unlike the reference, setting options never exempts the connection from the anonymous rate
  // limit or the login limiter (docs/departures.md): anyone may call this before logging in.
  handler: (ctx, options) => {
    Object.assign(ctx.conn.options, options);
    return null;
  },
});
