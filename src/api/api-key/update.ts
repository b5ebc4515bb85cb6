import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { updateApiKey } from "../../auth/api-key-admin.js";
import { apiKeyUpdateSchema } from "../../auth/api-key-inputs.js";
import { API_KEY_SECRETS } from "./common.js";
import { ApiKeyEntrySchema, ApiKeyWithKeySchema } from "../../auth/schemas.js";

export const apiKeyUpdate = defineMethod({
  name: "api_key.update",
  fleetUser: true,
  description: "Renames a key, changes its expiry or roles, or (reset) issues a new key and lifts a revocation.",
  args: [arg("id", z.number().int()), arg("api_key_update", apiKeyUpdateSchema)],
  // Your own keys without a role (not from a key-limited session); others' need API_KEY_WRITE.
  returns: z.union([ApiKeyWithKeySchema, ApiKeyEntrySchema]),
  owner: "self-or-role",
  roles: ["API_KEY_WRITE"],
  targets: (id) => ({ apiKeys: [id] }),
  audit: (id, data, { subject }) => `Update API key ${subject ?? id}${data.name && data.name !== subject ? ` (renamed ${data.name})` : ""}`,
  secretFields: API_KEY_SECRETS,
  showOnce: ["key", "client_key"],
  secretsRole: "API_KEY_WRITE",
  handler: (ctx, id, data) => updateApiKey(ctx, id, data),
});
