import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { suggestFreeUsername } from "../../accounts/username-suggest.js";

export const userSuggestUsername = defineMethod({
  name: "user.suggest_username",
  description: 'A free username derived from a full name (seed 001: "John Smith" → "jsmith", then jsmith2, …).',
  args: [arg("full_name", z.string())],
  returns: z.string(),
  roles: ["ACCOUNT_READ"],
  handler: (ctx, fullName) => suggestFreeUsername(ctx.app.store.db, fullName),
});
