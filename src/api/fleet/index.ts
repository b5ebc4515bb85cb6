// Methods of the fleet area. Add each method file here.

import type { MethodDef } from "../method.js";

export const fleetMethods: MethodDef[] = [];
