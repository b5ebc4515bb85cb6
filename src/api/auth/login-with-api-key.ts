import { z } from "zod";
import { arg, defineMethod } from "../method.js";

export const authLoginWithApiKey = defineMethod({
  name: "auth.login_with_api_key",
  description: "Deprecated: API key login; true on success.",
  args: [arg("api_key", z.string())],
  returns: z.boolean(),
  authenticationRequired: false,
  removedIn: "v27",
  secretArgs: ["api_key"],
  handler: async (ctx, api_key) => {
    const r = await ctx.app.auth.login(ctx.conn, { mechanism: "API_KEY_PLAIN", username: "", api_key, login_options: { user_info: false } });
    return r.response_type === "SUCCESS";
  },
});
