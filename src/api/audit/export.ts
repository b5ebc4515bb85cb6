import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { auditExportSchema, exportAudit } from "../../audit/export.js";

export const auditExport = defineMethod({
  name: "audit.export",
  description: "Exports audit entries as CSV or JSON into the data directory (a job); returns the report's path.",
  args: [arg("data", auditExportSchema, () => ({}))],
  returns: z.string().describe("Path of the report written."),
  roles: ["SYSTEM_AUDIT_READ"],
  job: { description: (data) => `Exporting audit log as ${data.export_format}` },
  handler: (ctx, data) => exportAudit(ctx, data),
});
