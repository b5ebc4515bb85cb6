// Methods of the group area. Add each method file here.

import type { MethodDef } from "../method.js";

export const groupMethods: MethodDef[] = [];
