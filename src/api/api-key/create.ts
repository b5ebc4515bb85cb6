import { arg, defineMethod } from "../method.js";
import { createApiKey } from "../../auth/api-key-admin.js";
import { apiKeyCreateSchema } from "../../auth/api-key-inputs.js";
import { API_KEY_SECRETS } from "./common.js";
import { ApiKeyWithKeySchema } from "../../auth/schemas.js";

export const apiKeyCreate = defineMethod({
  name: "api_key.create",
  fleetUser: true,
  description: "Creates an API key for a user (optionally limited to some of their roles); the key is returned only here.",
  args: [arg("api_key_create", apiKeyCreateSchema)],
  // Your own keys without a role (not from a key-limited session); others' need API_KEY_WRITE.
  returns: ApiKeyWithKeySchema,
  owner: "self-or-role",
  roles: ["API_KEY_WRITE"],
  targets: (data) => ({ usernames: [data.username] }),
  audit: (data) => `Create API key ${data.name}`,
  secretFields: API_KEY_SECRETS,
  showOnce: ["key", "client_key"],
  secretsRole: "API_KEY_WRITE",
  handler: (ctx, data) => createApiKey(ctx, data),
});
