// Methods of the fleet area. Add each method file here.

import type { MethodDef } from "../method.js";
import { fleetSystemQuery } from "./system/query.js";
import { fleetSystemGetInstance } from "./system/get-instance.js";
import { fleetSystemCreate } from "./system/create.js";
import { fleetSystemUpdate } from "./system/update.js";
import { fleetSystemDelete } from "./system/delete.js";
import { fleetSystemStatus } from "./system/status.js";
import { fleetCall } from "./call.js";
import { fleetSystemGroupQuery } from "./system-group/query.js";
import { fleetSystemGroupGetInstance } from "./system-group/get-instance.js";
import { fleetSystemGroupCreate } from "./system-group/create.js";
import { fleetSystemGroupUpdate } from "./system-group/update.js";
import { fleetSystemGroupDelete } from "./system-group/delete.js";
import { fleetAccessExplain } from "./access/explain.js";
import { fleetAccessMatrix } from "./access/matrix.js";

/** Systems, their status and the proxy (src/fleet/systems.ts, src/fleet/proxy.ts). */
const systemMethods: MethodDef[] = [fleetSystemQuery, fleetSystemGetInstance, fleetSystemCreate, fleetSystemUpdate, fleetSystemDelete, fleetSystemStatus, fleetCall];

/** System groups and the explanation of access (src/fleet/system-groups.ts, explain.ts, matrix.ts). */
const accessMethods: MethodDef[] = [fleetSystemGroupQuery, fleetSystemGroupGetInstance, fleetSystemGroupCreate, fleetSystemGroupUpdate, fleetSystemGroupDelete, fleetAccessExplain, fleetAccessMatrix];

export const fleetMethods: MethodDef[] = [...systemMethods, ...accessMethods];
