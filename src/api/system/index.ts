// Methods of the system area (security settings).

import type { MethodDef } from "../method.js";
import { systemSecurityConfig } from "./security-config.js";
import { systemSecurityUpdate } from "./security-update.js";
import { systemVersion } from "./version.js";

export const systemMethods: MethodDef[] = [systemSecurityConfig, systemSecurityUpdate, systemVersion];
