import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { CallError, validationError } from "../../server/errors.js";
import { changeReason } from "../../accounts/context.js";

export const userUnset2faSecret = defineMethod({
  name: "user.unset_2fa_secret",
  description: "Removes a user's TOTP secret (they then sign in without a second factor).",
  args: [arg("username", z.string())],
  returns: z.null(),
  roles: ["ACCOUNT_WRITE"],
  targets: (username) => ({ usernames: [username] }),
  audit: (username) => `Unset two-factor authentication secret: ${username}`,
  handler: async (ctx, username) => {
    if (await ctx.app.auth.stig()) {
      throw new CallError("Two-factor authentication may not be removed in General Purpose OS STIG compatibility mode.", "auth.twofactor_removal_stig");
    }
    const db = ctx.app.store.db;
    const user = await db.selectFrom("users").select("id").where("username", "=", username).executeTakeFirst();
    if (!user) validationError("username", `${username}: user does not exist.`, "user.not_found");
    await db.updateTable("users").set({ twofactor_secret: null }).where("id", "=", user.id).execute();
    ctx.app.accountsChanged(changeReason("user.unset_2fa_secret", [user.id], []));
    return null;
  },
});
