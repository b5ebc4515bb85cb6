// Methods of the privilege area. Add each method file here.

import type { MethodDef } from "../method.js";

export const privilegeMethods: MethodDef[] = [];
