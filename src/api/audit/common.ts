import { z } from "zod";
import { AUDIT_SERVICES } from "../../audit/query.js";

export const AuditQueryFields = {
  services: z.array(z.enum(AUDIT_SERVICES)).length(1, "Exactly one service must be selected").default(["MIDDLEWARE"]),
  "query-filters": z.array(z.any()).default([]),
  "query-options": z.record(z.string(), z.any()).default({}),
  remote_controller: z.boolean().default(false),
};
