import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { CallError, ERRNO } from "../../server/errors.js";

export const authSetAttribute = defineMethod({
  name: "auth.set_attribute",
  description: "Stores a UI preference (key → any JSON value) for the logged-in user.",
  args: [arg("key", z.string().min(1)), arg("value", z.any())],
  returns: z.null(),
  authorizationRequired: false,
  handler: async (ctx, key, value) => {
    const userId = ctx.session!.userId;
    if (userId === null) throw new CallError(`You are logged in using ${ctx.session!.credentials}`, ERRNO.EINVAL);
    await ctx.app.store.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom("attributes").select("attributes").where("user_id", "=", userId).executeTakeFirst();
      const attrs = row ? (JSON.parse(row.attributes) as Record<string, unknown>) : {};
      attrs[key] = value ?? null;
      const text = JSON.stringify(attrs);
      await trx
        .insertInto("attributes")
        .values({ user_id: userId, attributes: text })
        .onConflict((oc) => oc.column("user_id").doUpdateSet({ attributes: text }))
        .execute();
    });
    return null;
  },
});
