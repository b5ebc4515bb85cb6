import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { issueKeyMaterial } from "../../auth/api-keys.js";
import { API_KEY_SECRETS, ApiKeyFields, apiKeyById, checkMayChange, redactedKeyEntry, validateKey } from "./common.js";
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
  audit: (id, data) => `Update API key ${data.name ?? id}`,
  secretFields: API_KEY_SECRETS,
  secretsRole: "API_KEY_WRITE",
  handler: async (ctx, id, data) => {
    const db = ctx.app.store.db;
    const old = await apiKeyById(db, id);
    await checkMayChange(ctx);
    const next = {
      name: data.name ?? old.name,
      username: old.username ?? "",
      expires_at: data.expires_at === undefined ? old.expires_at : data.expires_at,
      roles: data.roles === undefined ? old.roles : data.roles,
    };
    await validateKey(ctx, "api_key_update", next, id, { expires_at: data.expires_at !== undefined });
    // A reset draws a new secret and a new SCRAM salt.
    const material = data.reset ? await issueKeyMaterial(ctx.app.config.scramIterations) : null;
    await db
      .updateTable("api_keys")
      .set({
        name: next.name,
        expires_at: next.expires_at ? next.expires_at.getTime() : null,
        roles: next.roles ? JSON.stringify(next.roles) : null,
        ...(material ? { ...material.columns, revoked: 0, revoked_reason: null } : {}),
      })
      .where("id", "=", id)
      .execute();
    const entry = await apiKeyById(db, id);
    ctx.app.events.publish("api_key.query", "changed", id, redactedKeyEntry(entry));
    return material ? { ...entry, key: `${id}-${material.secret}`, client_key: material.client_key } : entry;
  },
});
