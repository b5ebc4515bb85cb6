import { z } from "zod";
import { defineMethod } from "../method.js";
import { localAdministratorSetUp } from "../../accounts/local-admin.js";

export const userHasLocalAdministratorSetUp = defineMethod({
  name: "user.has_local_administrator_set_up",
  description: "Whether a local administrator with a password exists (the first-start page asks for one while it is false).",
  args: [],
  returns: z.boolean(),
  authenticationRequired: false,
  handler: (ctx) => localAdministratorSetUp(ctx.app.store.db),
});
