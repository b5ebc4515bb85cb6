// Methods of the api-key area. Add each method file here.

import type { MethodDef } from "../method.js";

export const apiKeyMethods: MethodDef[] = [];
