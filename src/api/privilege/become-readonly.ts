import { z } from "zod";
import { defineMethod } from "../method.js";
import { becomeReadonly } from "../../auth/readonly.js";

export const privilegeBecomeReadonly = defineMethod({
  name: "privilege.become_readonly",
  description: "Drops this session to the read-only administrator role (secrets are redacted afterwards).",
  args: [],
  returns: z.null(),
  roles: ["READONLY_ADMIN"],
  handler: async (ctx) => {
    await becomeReadonly(ctx.app, ctx.session!);
    return null;
  },
});
