// Methods of the group area. Add each method file here.

import type { MethodDef } from "../method.js";
import { groupQuery } from "./query.js";
import { groupGetInstance } from "./get-instance.js";
import { groupCreate } from "./create.js";
import { groupUpdate } from "./update.js";
import { groupDelete } from "./delete.js";
import { groupGetNextGid } from "./get-next-gid.js";
import { groupGetGroupObj } from "./get-group-obj.js";
import { groupHasPasswordEnabledUser } from "./has-password-enabled-user.js";

export const groupMethods: MethodDef[] = [groupQuery, groupGetInstance, groupCreate, groupUpdate, groupDelete, groupGetNextGid, groupGetGroupObj, groupHasPasswordEnabledUser];
