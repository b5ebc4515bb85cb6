import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { LoginResultSchema } from "../../auth/schemas.js";

export const LoginOptions = z.strictObject({ user_info: z.boolean().default(true), reconnect_token: z.boolean().default(false) }).default({ user_info: true, reconnect_token: false });

export const LoginData = z.discriminatedUnion("mechanism", [
  z.strictObject({ mechanism: z.literal("PASSWORD_PLAIN"), username: z.string(), password: z.string(), login_options: LoginOptions }),
  z.strictObject({ mechanism: z.literal("API_KEY_PLAIN"), username: z.string().default(""), api_key: z.string(), login_options: LoginOptions }),
  z.strictObject({ mechanism: z.literal("TOKEN_PLAIN"), token: z.string(), login_options: LoginOptions }),
  z.strictObject({ mechanism: z.literal("OTP_TOKEN"), otp_token: z.string(), login_options: LoginOptions.optional() }),
  // SCRAM-SHA-512 API-key login in two steps (no login_options; reference truenas-scram-and-jobs.md §3.4).
  z.strictObject({ mechanism: z.literal("SCRAM"), scram_type: z.enum(["CLIENT_FIRST_MESSAGE", "CLIENT_FINAL_MESSAGE"]), rfc_str: z.string().max(4096) }),
]);

export const authLoginEx = defineMethod({
  name: "auth.login_ex",
  description: "Authenticates the connection with a password, API key (PLAIN or SCRAM), token or OTP (second step).",
  args: [arg("login_data", LoginData)],
  returns: LoginResultSchema,
  authenticationRequired: false,
  secretArgs: ["login_data.password", "login_data.api_key", "login_data.token", "login_data.otp_token", "login_data.rfc_str"],
  handler: (ctx, data) => ctx.app.auth.login(ctx.conn, data),
});
