import { arg, defineMethod } from "../method.js";
import { securityEntry } from "./security-config.js";
import { SecurityConfigSchema } from "../../auth/schemas.js";
import { SecurityUpdateSchema, updateSecuritySettings } from "../../auth/security-settings.js";

export const systemSecurityUpdate = defineMethod({
  name: "system.security.update",
  description: "Updates the password policy, lock-out and GPOS STIG settings (a job).",
  args: [arg("system_security_update", SecurityUpdateSchema)],
  returns: SecurityConfigSchema,
  roles: ["SYSTEM_SECURITY_WRITE"],
  audit: "System security update",
  job: { description: () => "Updating system security settings" },
  handler: async (ctx, data) => securityEntry(await updateSecuritySettings(ctx, data)),
});
