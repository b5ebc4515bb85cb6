import { z } from "zod";
import { defineMethod } from "../method.js";
import { accessFor } from "../../access/authorize.js";

export const privilegeBecomeReadonly = defineMethod({
  name: "privilege.become_readonly",
  description: "Drops this session to the read-only administrator role (secrets are redacted afterwards).",
  args: [],
  returns: z.null(),
  roles: ["READONLY_ADMIN"],
  handler: async (ctx) => {
    const s = ctx.session!;
    const access = accessFor(ctx.app.registry, ["READONLY_ADMIN"], await ctx.app.auth.stig());
    Object.assign(s, {
      rawRoles: ["READONLY_ADMIN"],
      roles: access.roles,
      fullAdmin: access.fullAdmin,
      allowedMethods: access.allowedMethods,
      webuiAccess: access.webuiAccess,
      webShell: false,
      readonly: true,
      internal: false,
    });
    await ctx.app.auth.markReadonly(s);
    return null;
  },
});
