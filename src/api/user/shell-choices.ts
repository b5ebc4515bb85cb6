import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { shellChoices } from "../../accounts/user-rules.js";

export const userShellChoices = defineMethod({
  name: "user.shell_choices",
  description: "Login shells a user may get: path → name (nologin plus the host's /usr/bin shells).",
  args: [arg("group_ids", z.array(z.number().int()), () => [])],
  returns: z.record(z.string(), z.string()),
  roles: ["ACCOUNT_READ"],
  // Gatehouse has no appliance-only shells, so the group ids change nothing (kept for clients).
  handler: (ctx) => shellChoices(ctx.app),
});
