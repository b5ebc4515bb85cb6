import { z } from "zod";
import { arg, defineMethod } from "../method.js";

export const authLogin = defineMethod({
  name: "auth.login",
  description: "Deprecated: password login (with an optional OTP); true on success.",
  args: [arg("username", z.string()), arg("password", z.string()), arg("otp_token", z.string().nullable(), () => null)],
  returns: z.boolean(),
  authenticationRequired: false,
  removedIn: "v27",
  secretArgs: ["password", "otp_token"],
  handler: async (ctx, username, password, otp_token) => {
    const r = await ctx.app.auth.login(ctx.conn, { mechanism: "PASSWORD_PLAIN", username, password, login_options: { user_info: false } });
    if (r.response_type === "OTP_REQUIRED" && otp_token !== null) {
      const r2 = await ctx.app.auth.login(ctx.conn, { mechanism: "OTP_TOKEN", otp_token, login_options: { user_info: false } });
      return r2.response_type === "SUCCESS";
    }
    if (r.response_type === "OTP_REQUIRED") ctx.conn.pendingTwoFactor = null;
    return r.response_type === "SUCCESS";
  },
});
