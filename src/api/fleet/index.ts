// Methods of the fleet area. Add each method file here.

import type { MethodDef } from "../method.js";
import { fleetSystemQuery } from "./system/query.js";
import { fleetSystemGetInstance } from "./system/get-instance.js";
import { fleetSystemCreate } from "./system/create.js";
import { fleetSystemUpdate } from "./system/update.js";
import { fleetSystemDelete } from "./system/delete.js";
import { fleetSystemStatus } from "./system/status.js";
import { fleetCall } from "./call.js";

/** Systems, their status and the proxy (src/fleet/systems.ts, src/fleet/proxy.ts). */
const systemMethods: MethodDef[] = [fleetSystemQuery, fleetSystemGetInstance, fleetSystemCreate, fleetSystemUpdate, fleetSystemDelete, fleetSystemStatus, fleetCall];

export const fleetMethods: MethodDef[] = [...systemMethods];
