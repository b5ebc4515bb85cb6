import { z } from "zod";
import { arg, defineMethod } from "../method.js";

const ConnectionOptionsSchema = z
  .object({ legacy_jobs: z.boolean(), private_methods: z.boolean(), py_exceptions: z.boolean() })
  .meta({ id: "ConnectionOptions", description: "The connection's options after the call." });

export const coreSetOptions = defineMethod({
  name: "core.set_options",
  description: "Sets per-connection options: legacy_jobs (job calls answer with the job id), private_methods, py_exceptions. Keys it does not know are ignored; answers with every option's value.",
  // Unknown keys are ignored, not refused (newer clients send more; reference truenas-scram-and-jobs.md §5).
  args: [arg("options", z.object({ legacy_jobs: z.boolean().optional(), private_methods: z.boolean().optional(), py_exceptions: z.boolean().optional() }))],
  returns: ConnectionOptionsSchema,
  authenticationRequired: false,
  rateLimit: false,
  // Unlike the reference, setting options never exempts the connection from the anonymous rate
  // limit or the login limiter (docs/departures.md): anyone may call this before logging in.
  handler: (ctx, options) => {
    const o = ctx.conn.options;
    for (const k of ["legacy_jobs", "private_methods", "py_exceptions"] as const) if (options[k] !== undefined) o[k] = options[k];
    return { legacy_jobs: o.legacy_jobs, private_methods: o.private_methods, py_exceptions: o.py_exceptions };
  },
});
