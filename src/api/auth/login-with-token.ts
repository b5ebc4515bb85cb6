import { z } from "zod";
import { arg, defineMethod } from "../method.js";

export const authLoginWithToken = defineMethod({
  name: "auth.login_with_token",
  description: "Token login (wrapper over TOKEN_PLAIN); true on success.",
  args: [arg("token", z.string())],
  returns: z.boolean(),
  authenticationRequired: false,
  secretArgs: ["token"],
  handler: async (ctx, token) => {
    const r = await ctx.app.auth.login(ctx.conn, { mechanism: "TOKEN_PLAIN", token, login_options: { user_info: false } });
    return r.response_type === "SUCCESS";
  },
});
