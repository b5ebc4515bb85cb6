import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { MAX_ATTRIBUTE_BYTES, MAX_ATTRIBUTES, MAX_KEY_LENGTH, setUserAttribute } from "../../auth/attributes.js";
import { unrenderableChar } from "../../accounts/names.js";

const Key = z
  .string()
  .min(1)
  .max(MAX_KEY_LENGTH)
  .refine((k) => unrenderableChar(k) === null, "Control and formatting characters are not allowed");

export const authSetAttribute = defineMethod({
  name: "auth.set_attribute",
  fleetUser: true,
  description: `Stores a UI preference (key → any JSON value, at most ${MAX_ATTRIBUTE_BYTES} bytes) for the logged-in user; at most ${MAX_ATTRIBUTES} keys.`,
  args: [arg("key", Key), arg("value", z.any())],
  returns: z.null(),
  authorizationRequired: false,
  handler: async (ctx, key, value) => {
    await setUserAttribute(ctx.app.store.db, ctx.session!, key, value);
    return null;
  },
});
