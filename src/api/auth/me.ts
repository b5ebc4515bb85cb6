import { defineMethod } from "../method.js";
import { buildMe } from "../../auth/me.js";
import { MeSchema } from "../../auth/schemas.js";

export const authMe = defineMethod({
  name: "auth.me",
  fleetUser: true,
  description: "The logged-in user: passwd fields, UI attributes, two-factor state, expanded roles and account attributes.",
  args: [],
  returns: MeSchema,
  authorizationRequired: false,
  handler: (ctx) => buildMe(ctx.app, ctx.session!),
});
