import { arg, defineMethod } from "../method.js";
import { TwofactorUpdateSchema, updateTwofactorSettings } from "../../auth/security-settings.js";
import { TwofactorGlobalConfigSchema } from "../../auth/schemas.js";

export const authTwofactorUpdate = defineMethod({
  name: "auth.twofactor.update",
  description: "Updates the global two-factor settings.",
  args: [arg("auth_twofactor_update", TwofactorUpdateSchema)],
  returns: TwofactorGlobalConfigSchema,
  roles: ["SYSTEM_SECURITY_WRITE"],
  audit: "Update two-factor authentication service configuration",
  handler: (ctx, data) => updateTwofactorSettings(ctx, data),
});
