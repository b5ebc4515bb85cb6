import { defineMethod } from "../method.js";
import { securityConfig, type SecurityConfig } from "../../auth/policy.js";
import { WireSet } from "../../server/ejson.js";
import { SecurityConfigSchema } from "../../auth/schemas.js";

/** The wire form: the complexity ruleset travels as a set. */
export function securityEntry(sec: SecurityConfig): Record<string, unknown> {
  return { ...sec, password_complexity_ruleset: sec.password_complexity_ruleset ? new WireSet(sec.password_complexity_ruleset) : null };
}

export const systemSecurityConfig = defineMethod({
  name: "system.security.config",
  description: "Password policy, lock-out and GPOS STIG settings.",
  args: [],
  returns: SecurityConfigSchema,
  roles: ["SYSTEM_SECURITY_READ"],
  handler: async (ctx) => securityEntry(await securityConfig(ctx.app.store.db)),
});
