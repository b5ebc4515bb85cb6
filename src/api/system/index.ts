// Methods of the system area. Add each method file here.

import type { MethodDef } from "../method.js";

export const systemMethods: MethodDef[] = [];
