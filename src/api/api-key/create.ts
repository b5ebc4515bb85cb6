import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { issueKeyMaterial } from "../../auth/api-keys.js";
import { API_KEY_SECRETS, ApiKeyFields, apiKeyById, checkMayChange, redactedKeyEntry, validateKey } from "./common.js";
import { ApiKeyWithKeySchema } from "../../auth/schemas.js";

const Create = z.strictObject({
  name: ApiKeyFields.name,
  username: ApiKeyFields.username,
  expires_at: ApiKeyFields.expires_at.default(null),
  roles: ApiKeyFields.roles.default(null),
});

export const apiKeyCreate = defineMethod({
  name: "api_key.create",
  fleetUser: true,
  description: "Creates an API key for a user (optionally limited to some of their roles); the key is returned only here.",
  args: [arg("api_key_create", Create)],
  // Your own keys without a role (not from a key-limited session); others' need API_KEY_WRITE.
  returns: ApiKeyWithKeySchema,
  owner: "self-or-role",
  roles: ["API_KEY_WRITE"],
  targets: (data) => ({ usernames: [data.username] }),
  audit: (data) => `Create API key ${data.name}`,
  secretFields: API_KEY_SECRETS,
  secretsRole: "API_KEY_WRITE",
  handler: async (ctx, data) => {
    await checkMayChange(ctx);
    const userId = await validateKey(ctx, "api_key_create", data, null, { expires_at: true });
    const material = await issueKeyMaterial(ctx.app.config.scramIterations);
    const row = await ctx.app.store.db
      .insertInto("api_keys")
      .values({
        name: data.name,
        user_id: userId,
        username: data.username,
        ...material.columns,
        created_at: Date.now(),
        expires_at: data.expires_at ? data.expires_at.getTime() : null,
        revoked: 0,
        revoked_reason: null,
        roles: data.roles ? JSON.stringify(data.roles) : null,
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    const entry = await apiKeyById(ctx.app.store.db, row.id);
    ctx.app.events.publish("api_key.query", "added", entry.id, redactedKeyEntry(entry));
    return { ...entry, key: `${row.id}-${material.secret}`, client_key: material.client_key };
  },
});
