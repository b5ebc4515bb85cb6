import { z } from "zod";
import { defineMethod } from "../method.js";
import { authorize } from "../../access/authorize.js";
import { MethodDocSchema, methodListing } from "../method-docs.js";

export const coreGetMethods = defineMethod({
  name: "core.get_methods",
  fleetUser: true,
  description: "Lists the methods the caller may call, with their arguments and result (JSON Schema, with field descriptions), roles, ownership rule and flags.",
  args: [],
  returns: z.record(z.string(), MethodDocSchema).describe("By method name."),
  authorizationRequired: false,
  handler: (ctx) => {
    const listed = ctx.app.registry.all().filter((def) => {
      if (def.private && !ctx.conn.options.private_methods) return false;
      if (def.removedIn && ctx.conn.apiVersion >= def.removedIn) return false;
      return authorize(def, ctx.session) === "ALLOW";
    });
    return methodListing(listed);
  },
});
