import { z } from "zod";
import { defineMethod, type MethodDef } from "../method.js";
import { authorize } from "../../access/authorize.js";

function schemaOf(def: MethodDef): unknown[] {
  return def.args.map((a) => {
    try {
      return { _name_: a.name, ...(z.toJSONSchema(a.schema, { unrepresentable: "any", io: "input" }) as object) };
    } catch {
      return { _name_: a.name };
    }
  });
}

export const coreGetMethods = defineMethod({
  name: "core.get_methods",
  description: "Lists the methods the caller may call, with their arguments (JSON Schema), roles and flags.",
  args: [],
  authorizationRequired: false,
  handler: (ctx) => {
    const out: Record<string, unknown> = {};
    for (const def of ctx.app.registry.all()) {
      if (def.private && !ctx.conn.options.private_methods) continue;
      if (def.removedIn && ctx.conn.apiVersion >= def.removedIn) continue;
      if (authorize(def, ctx.session) !== "ALLOW") continue;
      let returns: unknown = null;
      try {
        returns = def.returns ? z.toJSONSchema(def.returns, { unrepresentable: "any", io: "output" }) : null;
      } catch {
        returns = null;
      }
      out[def.name] = {
        description: def.description,
        roles: def.roles,
        require_authentication: def.authenticationRequired,
        require_authorization: def.authorizationRequired,
        audit: typeof def.audit === "string" ? def.audit : def.audit ? "dynamic" : null,
        job: !!def.job,
        accepts: schemaOf(def),
        returns,
      };
    }
    return out;
  },
});
