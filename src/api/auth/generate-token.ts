import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { CallError, validationError } from "../../server/errors.js";
import { createToken } from "../../auth/tokens.js";
import { mayUseJob } from "../../access/grant-check.js";

const MAX_TTL = 30 * 24 * 3600;

export const authGenerateToken = defineMethod({
  name: "auth.generate_token",
  fleetUser: true,
  description: "Mints a 64-character token for this session's identity (sliding ttl in seconds; attrs make a download/upload token).",
  args: [
    arg("ttl", z.number().int().min(1).max(MAX_TTL).nullable(), () => 600),
    arg("attrs", z.record(z.string(), z.any()), () => ({})),
    arg("match_origin", z.boolean(), () => true),
    arg("single_use", z.boolean(), () => false),
  ],
  returns: z.string(),
  showOnce: true,
  authorizationRequired: false,
  audit: "Generate authentication token for session",
  handler: async (ctx, ttl, attrs, match_origin, single_use) => {
    const s = ctx.session!;
    if (s.attributes.includes("OTPW")) throw new CallError("Onetime password sessions may not generate authentication tokens", "auth.token_from_otp_session");
    if (s.level === "LEVEL_2" && !single_use) {
      throw new CallError("Multi-use authentication tokens are not supported at current authenticator level.", "auth.multi_use_token_not_supported");
    }
    if (attrs.job !== undefined) {
      const job = ctx.app.jobs.get(Number(attrs.job));
      if (!job) validationError("attrs.job", `${attrs.job}: job does not exist.`, "auth.token_job_not_found");
      if (!mayUseJob(s, job.owner)) validationError("attrs.job", "Job is not owned by current session", "auth.token_job_not_owned");
    }
    return createToken(ctx.app.store.db, s, ctx.conn.remoteAddress, {
      ttl: Math.min(ttl ?? 600, Math.max(1, Math.floor((s.expiresAt - Date.now()) / 1000))),
      attrs,
      matchOrigin: match_origin,
      singleUse: single_use,
    });
  },
});
