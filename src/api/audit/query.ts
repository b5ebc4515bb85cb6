import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { ValidationErrors } from "../../server/errors.js";
import { AUDIT_FIELDS, queryAudit } from "../../audit/query.js";
import { AuditQueryFields } from "./common.js";
import { queryResult } from "../../server/wire-schema.js";
import { AuditEntrySchema } from "../../audit/schemas.js";

const ATTR = "audit_query";

export const auditQuery = defineMethod({
  name: "audit.query",
  description: "Queries the audit log (AUTHENTICATION, LOGOUT and METHOD_CALL entries of the MIDDLEWARE service).",
  args: [arg(ATTR, z.strictObject(AuditQueryFields), () => ({}))],
  returns: z.union([queryResult(AuditEntrySchema), z.null().describe("get on a service other than MIDDLEWARE")]),
  roles: ["SYSTEM_AUDIT_READ"],
  handler: async (ctx, data) => {
    const options = data["query-options"];
    const errors = new ValidationErrors();
    if (!options.limit && !options.count && !options.get) {
      errors.add(`${ATTR}.query-options`, "query-options must be set to either gather row count or contain a limit on the rows returned.", "audit.query_unbounded");
    }
    const select = Array.isArray(options.select) ? options.select : [];
    for (const [i, item] of select.entries()) {
      const name = String(Array.isArray(item) ? item[0] : item).split(".")[0];
      if (!(AUDIT_FIELDS as readonly string[]).includes(name)) errors.add(`${ATTR}.query-options.select.${i}`, `${name}: unknown column`, "audit.unknown_column");
    }
    errors.check();
    if (data.services[0] !== "MIDDLEWARE") return options.count ? 0 : options.get ? null : [];
    return queryAudit(
      ctx.app.store.db,
      ctx.app.store.dialect,
      data["query-filters"],
      options,
      {
        filters: `${ATTR}.query-filters`,
        options: `${ATTR}.query-options`,
      },
      ctx.app.registry,
    );
  },
});
