import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { deleteApiKey } from "../../auth/api-key-admin.js";

export const apiKeyDelete = defineMethod({
  name: "api_key.delete",
  fleetUser: true,
  description: "Deletes an API key.",
  args: [arg("id", z.number().int())],
  returns: z.literal(true),
  // Your own keys without a role (not from a key-limited session); others' need API_KEY_WRITE.
  owner: "self-or-role",
  roles: ["API_KEY_WRITE"],
  targets: (id) => ({ apiKeys: [id] }),
  audit: (id, { subject }) => `Delete API key ${subject ?? id}`,
  handler: (ctx, id) => deleteApiKey(ctx, id),
});
