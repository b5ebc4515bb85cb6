// Methods of the ldap area. Add each method file here.

import type { MethodDef } from "../method.js";

export const ldapMethods: MethodDef[] = [];
