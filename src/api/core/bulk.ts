import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { callMethod, errorObject } from "../../server/rpc.js";

export const coreBulk = defineMethod({
  name: "core.bulk",
  fleetUser: true, // each call it makes is authorized on its own
  description: "Calls one method once per parameter list, as a job with progress; each call is authorized as the caller. Returns [{result, error}] in order.",
  args: [arg("method", z.string().min(1)), arg("params", z.array(z.array(z.any()))), arg("description", z.string().nullable(), () => null)],
  returns: z.array(
    z.object({
      result: z.unknown().describe("The call's result (null on error)."),
      error: z.string().nullable().describe("The error's reason, null on success."),
      errname: z.string().nullable().describe("The error's errno name, null on success."),
    }),
  ),
  authorizationRequired: false,
  job: { abortable: true, description: (_m: string, _p: unknown[][], d: string | null) => d ?? "" },
  handler: async (ctx, method, params) => {
    const job = ctx.job!;
    const out: { result: unknown; error: string | null; errname: string | null }[] = [];
    for (let i = 0; i < params.length; i++) {
      // better-sqlite3 answers synchronously, so without a real yield this loop would run on
      // microtasks alone and starve every socket (including the job_abort call).
      await yieldToEventLoop();
      job.checkAborted();
      try {
        out.push({ result: await callMethod(ctx.app, ctx.conn, method, params[i]!, null), error: null, errname: null });
      } catch (err) {
        const e = errorObject(err);
        out.push({ result: null, error: String(e.data.reason ?? e.message), errname: String(e.data.errname ?? "") });
      }
      job.setProgress(Math.round(((i + 1) / params.length) * 100), `${i + 1}/${params.length}`);
    }
    return out;
  },
});
