import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { auditQueryCall, auditQueryFields } from "../../audit/query.js";
import { queryResult } from "../../server/wire-schema.js";
import { AuditEntrySchema } from "../../audit/schemas.js";

const ATTR = "audit_query";

export const auditQuery = defineMethod({
  name: "audit.query",
  description: "Queries the audit log (AUTHENTICATION, LOGOUT and METHOD_CALL entries of the MIDDLEWARE service).",
  args: [arg(ATTR, z.strictObject(auditQueryFields), () => ({}))],
  returns: z.union([queryResult(AuditEntrySchema), z.null().describe("get on a service other than MIDDLEWARE")]),
  roles: ["SYSTEM_AUDIT_READ"],
  handler: (ctx, data) => auditQueryCall(ctx, data, ATTR),
});
