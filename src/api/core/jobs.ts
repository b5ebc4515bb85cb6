import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { CallError, ERRNO } from "../../server/errors.js";
import type { CallContext } from "../context.js";
import type { Job } from "../../server/jobs.js";
import { queryRows } from "../../store/query-rows.js";
import { redactAlways, redactResult, redactShowOnce, type Redactable } from "../../server/redact.js";
import { redactJobResult } from "../../server/events.js";
import { queryResult } from "../../server/wire-schema.js";
import { JobEntrySchema } from "../../server/job-schema.js";
import { maySeeJob, seesAllJobs } from "../../access/authorize.js";

/** Non-admin user sessions see, wait for and abort only their own jobs (reference §8.4). */
function visibleJob(ctx: CallContext, job: Job | undefined, id: number): Job {
  const s = ctx.session!;
  if (!job) throw new CallError(`${id}: job does not exist.`, "job.not_found");
  if (seesAllJobs(s)) return job;
  if (job.owner.internal) throw new CallError("Only users with full administrative privileges can access internally ran jobs", "job.internal");
  if (job.owner.sessionId !== s.id) throw new CallError("Job is not owned by current session", "job.not_owned");
  return job;
}

export const coreGetJobs = defineMethod({
  name: "core.get_jobs",
  fleetUser: true,
  description: "Queries jobs (query-filters and query-options as any *.query method).",
  args: [arg("filters", z.array(z.any()), () => []), arg("options", z.record(z.string(), z.any()), () => ({}))],
  returns: queryResult(JobEntrySchema),
  authorizationRequired: false,
  handler: (ctx, filters, options) => {
    const s = ctx.session!;
    const jobs = ctx.app.jobs.all().filter((j) => maySeeJob(s, j.owner));
    // Results are redacted by the secret fields of the method each job ran — always, as in the
    // reference, unless `extra.raw_result` asks for what this session may see — before filtering,
    // so a filter on a result's secret field only ever matches the redacted value.
    const raw = !!(options as { extra?: { raw_result?: unknown } }).extra?.raw_result;
    const entries = jobs.map((j) => {
      const entry = j.toEntry();
      // Show-once fields (a generated password, a new key) never: only the call's own answer had them.
      const redact = raw ? (def: Redactable, v: unknown) => redactShowOnce(def, redactResult(def, s, v)) : redactAlways;
      const result = redactJobResult(ctx.app.registry, j.method, j.args, entry.result, redact);
      return result === entry.result ? entry : { ...entry, result };
    });
    return queryRows(entries, filters, options);
  },
});

export const coreJobWait = defineMethod({
  name: "core.job_wait",
  fleetUser: true,
  description: "Waits for a job to finish and returns its result (itself a job).",
  args: [arg("id", z.number().int())],
  returns: z.unknown().describe("The job's result (its method's result, secret fields redacted)."),
  authorizationRequired: false,
  job: true,
  handler: async (ctx, id) => {
    const job = visibleJob(ctx, ctx.app.jobs.get(id), id);
    await job.done;
    if (job.state === "SUCCESS") return job.publicResult === undefined ? job.result : job.publicResult;
    throw new CallError(job.error ?? "Job failed", { errno: job.excInfo?.errno ?? ERRNO.EFAULT, code: job.errorCode ?? "core.internal" }, job.excInfo?.extra ?? null);
  },
});

export const coreJobAbort = defineMethod({
  name: "core.job_abort",
  fleetUser: true,
  description: "Asks a running abortable job to stop.",
  args: [arg("id", z.number().int())],
  returns: z.null(),
  authorizationRequired: false,
  handler: (ctx, id) => {
    const job = visibleJob(ctx, ctx.app.jobs.get(id), id);
    if (!job.abortable) throw new CallError("Job is not abortable", "job.not_abortable");
    job.requestAbort();
    return null;
  },
});
