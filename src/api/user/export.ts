import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { timestamp } from "../../server/wire-schema.js";
import { exportAccountsJob } from "../../accounts/export.js";

export const userExport = defineMethod({
  name: "user.export",
  description:
    "Exports every local (non-built-in) user and group as `gatehouse export` does (a job): JSON with both, or CSV of the users (`groups`: the groups file). `with_hashes` adds password hashes and needs FULL_ADMIN. The file is fetched once with GET <url> on this server, while the session that started the job lives, within 10 minutes.",
  args: [
    arg("user_export", z.strictObject({ format: z.enum(["JSON", "CSV"]).default("JSON"), groups: z.boolean().default(false), with_hashes: z.boolean().default(false) }), () => ({
      format: "JSON" as const,
      groups: false,
      with_hashes: false,
    })),
  ],
  returns: z.object({
    format: z.enum(["JSON", "CSV"]),
    users: z.number().int(),
    groups: z.number().int(),
    url: z.string().describe("/_download/<job id>/<token>: one GET, bound to the job and the session."),
    expires_at: timestamp,
  }),
  roles: ["ACCOUNT_READ"],
  job: true,
  audit: (o) => `Export users and groups (${o.format}${o.groups ? ", groups file" : ""}${o.with_hashes ? ", with password hashes" : ""})`,
  handler: (ctx, o) => exportAccountsJob(ctx, o),
});
