// Methods of the audit area. Add each method file here.

import type { MethodDef } from "../method.js";

export const auditMethods: MethodDef[] = [];
