// Methods of the mail area. Add each method file here.

import type { MethodDef } from "../method.js";

export const mailMethods: MethodDef[] = [];
