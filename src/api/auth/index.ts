// Methods of the auth area. Add each method file here.

import type { MethodDef } from "../method.js";
import { authLoginEx } from "./login-ex.js";

export const authMethods: MethodDef[] = [authLoginEx];
