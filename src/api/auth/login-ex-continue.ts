import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { LoginOptions } from "./login-ex.js";
import { LoginResultSchema } from "../../auth/schemas.js";

export const authLoginExContinue = defineMethod({
  name: "auth.login_ex_continue",
  description: "Continues a login that answered OTP_REQUIRED with the second factor (mechanism OTP_TOKEN).",
  args: [arg("login_data", z.strictObject({ mechanism: z.literal("OTP_TOKEN"), otp_token: z.string(), login_options: LoginOptions.optional() }))],
  returns: LoginResultSchema,
  authenticationRequired: false,
  secretArgs: ["login_data.otp_token"],
  handler: (ctx, data) => ctx.app.auth.login(ctx.conn, data),
});
