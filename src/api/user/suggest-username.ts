import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { suggestUsername } from "../../accounts/names.js";

export const userSuggestUsername = defineMethod({
  name: "user.suggest_username",
  description: "A free username derived from a full name (seed 001: \"John Smith\" → \"jsmith\", then jsmith2, …).",
  args: [arg("full_name", z.string())],
  returns: z.string(),
  roles: ["ACCOUNT_READ"],
  handler: async (ctx, fullName) => {
    const base = suggestUsername(fullName);
    // Every name that could collide starts with the base (its numbered variants too).
    const rows = await ctx.app.store.db.selectFrom("users").select("username").where("username", ">=", base).where("username", "<", `${base}\uffff`).execute();
    const taken = new Set(rows.map((r) => r.username));
    return suggestUsername(fullName, (n) => taken.has(n));
  },
});
