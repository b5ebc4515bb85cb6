import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { importAccountsJob } from "../../accounts/import.js";

const RowErrorSchema = z.object({
  kind: z.enum(["users", "groups"]),
  line: z.number().int().describe("Line of the file (0 when unknown)."),
  name: z.string().nullable(),
  field: z.string(),
  message: z.string(),
  code: z.string(),
});

export const userImport = defineMethod({
  name: "user.import",
  description:
    "Imports users and groups as `gatehouse import` does (a job): the job's progress names `extra.upload_url`, where the file (the accounts JSON, or a users or groups CSV) is sent once with HTTP PUT while the session that started the job lives, within 10 minutes. Every record is checked first; nothing is imported while any is invalid unless `skip_invalid`; `dry_run` only reports.",
  args: [arg("user_import", z.strictObject({ dry_run: z.boolean().default(false), skip_invalid: z.boolean().default(false) }), () => ({ dry_run: false, skip_invalid: false }))],
  returns: z.object({
    dryRun: z.boolean(),
    groups: z.number().int(),
    users: z.number().int(),
    memberships: z.number().int(),
    errors: z.array(RowErrorSchema),
    refused: z.boolean().describe("Nothing was imported because records are invalid (all or nothing)."),
  }),
  // Imported records may carry sudo rules and built-in group memberships: FULL_ADMIN only.
  roles: ["FULL_ADMIN"],
  job: true,
  audit: (o) => `Import users and groups${o.dry_run ? " (dry run)" : ""}`,
  handler: (ctx, o) => importAccountsJob(ctx, o),
});
