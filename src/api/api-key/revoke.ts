import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { revokeApiKeyOnRequest } from "../../auth/api-key-admin.js";
import { API_KEY_SECRETS } from "./common.js";
import { ApiKeyEntrySchema } from "../../auth/schemas.js";

// Beyond the reference, where keys are revoked only when sent over an insecure transport: an
// owner or key administrator can revoke a key on purpose (a leak, a departed script). The key then
// answers AUTH_ERR until `api_key.update(id, {reset: true})` issues a new secret.
export const apiKeyRevoke = defineMethod({
  name: "api_key.revoke",
  fleetUser: true,
  description: "Revokes an API key (it stops working at once and shows revoked_reason); reset issues a new one.",
  args: [arg("id", z.number().int()), arg("reason", z.string().min(1).max(200).nullable(), () => null)],
  // Your own keys without a role (not from a key-limited session); others' need API_KEY_WRITE.
  returns: ApiKeyEntrySchema,
  owner: "self-or-role",
  roles: ["API_KEY_WRITE"],
  targets: (id) => ({ apiKeys: [id] }),
  audit: (id, _reason, { subject }) => `Revoke API key ${subject ?? id}`,
  secretFields: API_KEY_SECRETS,
  secretsRole: "API_KEY_WRITE",
  handler: (ctx, id, reason) => revokeApiKeyOnRequest(ctx, id, reason),
});
