import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { stageTwoFactorSecret } from "../../accounts/twofactor-secret.js";

export const userStage2faSecret = defineMethod({
  name: "user.stage_2fa_secret",
  description:
    "Stages a new TOTP secret for a user (yourself, or anyone as FULL_ADMIN) without turning it on: returns its provisioning URI; user.confirm_2fa_secret with a code from it turns it on (Gatehouse-specific; the staged secret expires after 15 minutes).",
  args: [
    arg("username", z.string()),
    arg("twofactor_options", z.strictObject({ otp_digits: z.number().int().min(6).max(8).optional(), interval: z.union([z.literal(30), z.literal(60)]).optional() }), () => ({})),
  ],
  returns: z.object({
    provisioning_uri: z.string().describe("otpauth:// URI of the staged secret (show it as a QR code)."),
    otp_digits: z.number().int().describe("Digits per code."),
    interval: z.number().int().describe("Seconds per code."),
    expires_at: z.date().describe("When the staged secret is dropped unless confirmed."),
  }),
  // The staged secret is shown to set up the authenticator, never again (job listings, events).
  showOnce: ["provisioning_uri"],
  owner: "self-or-role",
  roles: [],
  targets: (username) => ({ usernames: [username] }),
  audit: (username) => `Stage two-factor authentication secret: ${username}`,
  handler: (ctx, username, opts) => stageTwoFactorSecret(ctx.app, username, opts),
});
