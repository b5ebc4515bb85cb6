// Methods of the audit area.

import type { MethodDef } from "../method.js";
import { auditQuery } from "./query.js";
import { auditExport } from "./export.js";

export const auditMethods: MethodDef[] = [auditQuery, auditExport];
