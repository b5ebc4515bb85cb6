// Methods of the team area (issue 11): teams, their members and their grants (src/fleet/teams.ts).

import type { MethodDef } from "../method.js";
import { teamQuery } from "./query.js";
import { teamGetInstance } from "./get-instance.js";
import { teamCreate } from "./create.js";
import { teamUpdate } from "./update.js";
import { teamDelete } from "./delete.js";

export const teamMethods: MethodDef[] = [teamQuery, teamGetInstance, teamCreate, teamUpdate, teamDelete];
