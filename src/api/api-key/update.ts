import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { updateApiKey } from "../../auth/api-key-admin.js";
import { API_KEY_SECRETS, ApiKeyFields } from "./common.js";
import { ApiKeyEntrySchema, ApiKeyWithKeySchema } from "../../auth/schemas.js";

const Update = z.strictObject({
  name: ApiKeyFields.name.optional(),
  expires_at: ApiKeyFields.expires_at.optional(),
  roles: ApiKeyFields.roles.optional(),
  reset: z.boolean().default(false),
});

export const apiKeyUpdate = defineMethod({
  name: "api_key.update",
  fleetUser: true,
  description: "Renames a key, changes its expiry or roles, or (reset) issues a new key and lifts a revocation.",
  args: [arg("id", z.number().int()), arg("api_key_update", Update)],
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
