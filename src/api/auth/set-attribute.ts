import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { CallError, ValidationErrors } from "../../server/errors.js";
import { unrenderableChar } from "../../accounts/names.js";

/**
 * Bounds on a user's stored UI attributes (the reference has none): any logged-in user may call
 * this, so without them one account could store megabytes per call, and every auth.me carries them.
 */
export const MAX_ATTRIBUTES = 64;
export const MAX_ATTRIBUTE_BYTES = 4096;
const MAX_KEY_LENGTH = 256;

const Key = z
  .string()
  .min(1)
  .max(MAX_KEY_LENGTH)
  .refine((k) => unrenderableChar(k) === null, "Control and formatting characters are not allowed");

export const authSetAttribute = defineMethod({
  name: "auth.set_attribute",
  description: `Stores a UI preference (key → any JSON value, at most ${MAX_ATTRIBUTE_BYTES} bytes) for the logged-in user; at most ${MAX_ATTRIBUTES} keys.`,
  args: [arg("key", Key), arg("value", z.any())],
  returns: z.null(),
  authorizationRequired: false,
  handler: async (ctx, key, value) => {
    const userId = ctx.session!.userId;
    if (userId === null) throw new CallError(`You are logged in using ${ctx.session!.credentials}`, "auth.not_a_user_session");
    const size = Buffer.byteLength(JSON.stringify(value ?? null), "utf8");
    if (size > MAX_ATTRIBUTE_BYTES) throw new ValidationErrors().add("value", `Value exceeds ${MAX_ATTRIBUTE_BYTES} bytes as JSON (${size})`, "auth.attribute_too_large");
    await ctx.app.store.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom("attributes").select("attributes").where("user_id", "=", userId).executeTakeFirst();
      const attrs = row ? (JSON.parse(row.attributes) as Record<string, unknown>) : {};
      if (!Object.hasOwn(attrs, key) && Object.keys(attrs).length >= MAX_ATTRIBUTES) {
        throw new ValidationErrors().add("key", `At most ${MAX_ATTRIBUTES} attributes may be stored per user`, "auth.too_many_attributes");
      }
      // defineProperty: a key such as "__proto__" is stored as a key, never sets the prototype.
      Object.defineProperty(attrs, key, { value: value ?? null, enumerable: true, writable: true, configurable: true });
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
