import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { ValidationErrors } from "../../server/errors.js";
import { TWOFACTOR_KEY, twoFactorConfig } from "../../auth/policy.js";
import { setSetting } from "../../store/settings.js";
import { changeOf } from "../../store/change-event.js";
import { commitChange } from "../../store/changes.js";
import { MAX_TOTP_WINDOW } from "../../auth/totp.js";
import { TwofactorGlobalConfigSchema } from "../../auth/schemas.js";

const Update = z.strictObject({
  enabled: z.boolean().optional(),
  window: z.number().int().min(0).max(MAX_TOTP_WINDOW).optional(),
  services: z.strictObject({ ssh: z.boolean().optional() }).optional(),
});

export const authTwofactorUpdate = defineMethod({
  name: "auth.twofactor.update",
  description: "Updates the global two-factor settings.",
  args: [arg("auth_twofactor_update", Update)],
  returns: TwofactorGlobalConfigSchema,
  roles: ["SYSTEM_SECURITY_WRITE"],
  audit: "Update two-factor authentication service configuration",
  handler: async (ctx, data) => {
    const db = ctx.app.store.db;
    const old = await twoFactorConfig(db);
    const next = { ...old, ...data, id: 1, services: { ...old.services, ...(data.services ?? {}) } };
    if (await ctx.app.auth.stig()) {
      const errors = new ValidationErrors();
      if (!next.enabled) errors.add("auth_twofactor_update.enable", "Two factor authentication may not be disabled in General Purpose OS STIG compatibility mode.", "auth.twofactor_stig_required");
      if (!next.services.ssh)
        errors.add("auth_twofactor_update.services.ssh", "Two factor authentication for SSH may not be disabled in General Purpose OS STIG compatibility mode.", "auth.twofactor_stig_required");
      errors.check();
    }
    await commitChange(ctx.app, changeOf({ settings: [TWOFACTOR_KEY] }), (trx) => setSetting(trx, TWOFACTOR_KEY, next));
    return next;
  },
});
