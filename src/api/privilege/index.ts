// Methods of the privilege area.

import type { MethodDef } from "../method.js";
import { privilegeQuery } from "./query.js";
import { privilegeGetInstance } from "./get-instance.js";
import { privilegeCreate } from "./create.js";
import { privilegeUpdate } from "./update.js";
import { privilegeDelete } from "./delete.js";
import { privilegeRoles } from "./roles.js";
import { privilegeBecomeReadonly } from "./become-readonly.js";

export const privilegeMethods: MethodDef[] = [privilegeQuery, privilegeGetInstance, privilegeCreate, privilegeUpdate, privilegeDelete, privilegeRoles, privilegeBecomeReadonly];
