// Methods of the API key area.

import type { MethodDef } from "../method.js";
import { apiKeyQuery } from "./query.js";
import { apiKeyGetInstance } from "./get-instance.js";
import { apiKeyCreate } from "./create.js";
import { apiKeyUpdate } from "./update.js";
import { apiKeyDelete } from "./delete.js";
import { apiKeyMyKeys } from "./my-keys.js";
import { apiKeyRevoke } from "./revoke.js";

export const apiKeyMethods: MethodDef[] = [apiKeyQuery, apiKeyGetInstance, apiKeyCreate, apiKeyUpdate, apiKeyDelete, apiKeyMyKeys, apiKeyRevoke];
