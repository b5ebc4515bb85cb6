import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { syncDirectory } from "../../directory/ldap-sync.js";
import { LdapSyncReportSchema } from "../../directory/schemas.js";

export const ldapSync = defineMethod({
  name: "ldap.sync",
  description: "Re-applies the team mappings to every known directory user (a job with progress); with dry_run, only reports what would change. Needs a server with a bind DN.",
  args: [arg("dry_run", z.boolean(), () => true)],
  returns: LdapSyncReportSchema,
  roles: ["DIRECTORY_SERVICE_WRITE"],
  job: true,
  audit: (dryRun) => (dryRun ? "Preview LDAP sync" : "LDAP sync"),
  handler: (ctx, dryRun) => syncDirectory(ctx.app, ctx.job, dryRun),
});
