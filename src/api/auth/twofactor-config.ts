import { defineMethod } from "../method.js";
import { twoFactorConfig } from "../../auth/policy.js";
import { TwofactorGlobalConfigSchema } from "../../auth/schemas.js";

export const authTwofactorConfig = defineMethod({
  name: "auth.twofactor.config",
  description: "Global two-factor settings: enabled, window (time steps accepted either side), services.ssh.",
  args: [],
  returns: TwofactorGlobalConfigSchema,
  roles: ["SYSTEM_SECURITY_READ"],
  handler: (ctx) => twoFactorConfig(ctx.app.store.db),
});
