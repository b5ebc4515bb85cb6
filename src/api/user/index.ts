// Methods of the user area. Add each method file here.

import type { MethodDef } from "../method.js";

export const userMethods: MethodDef[] = [];
