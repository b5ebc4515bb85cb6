// Result schema of a job entry (core.get_jobs), as Job.toEntry builds it.

import { z } from "zod";
import { entity, timestamp } from "./wire-schema.js";

export const JobEntrySchema = entity("JobEntry", "A job (methods that run as jobs, core.bulk, core.job_wait).", {
  id: z.number().int().describe("Job id."),
  message_ids: z.array(z.union([z.string(), z.number()])).describe("JSON-RPC ids of the calls that started it."),
  method: z.string().describe("Method the job runs."),
  arguments: z.array(z.unknown()).describe("Its arguments (secret ones redacted)."),
  transient: z.boolean().describe("Not kept in listings after it ends."),
  description: z.string().nullable().describe("What it does."),
  abortable: z.boolean().describe("core.job_abort may stop it."),
  logs_path: z.null().describe("Always null."),
  logs_excerpt: z.null().describe("Always null."),
  progress: z.object({ percent: z.number().nullable(), description: z.string().nullable(), extra: z.unknown() }).describe("Progress: percent done and a description of the step."),
  result: z.unknown().describe("The method's result (secret fields redacted) once SUCCESS."),
  result_encoding_error: z.null().describe("Always null."),
  error: z.string().nullable().describe("Error message once FAILED or ABORTED."),
  exception: z.string().nullable().describe("Error details."),
  exc_info: z.object({ repr: z.string(), type: z.string(), errno: z.number().int().nullable(), extra: z.unknown() }).nullable().describe("Error type, errno and extra (validation triples)."),
  state: z.enum(["WAITING", "RUNNING", "SUCCESS", "FAILED", "ABORTED"]).describe("Job state."),
  time_started: timestamp.describe("When it started."),
  time_finished: timestamp.nullable().describe("When it ended."),
  credentials: z
    .object({ type: z.string(), data: z.record(z.string(), z.unknown()) })
    .nullable()
    .describe("Who started it."),
});
