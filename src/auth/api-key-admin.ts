// Managing API keys (api_key.create/update/delete/revoke; reference §6 as adapted by SPEC):
// validation (a unique name, an expiry in the future, an owner holding at least one role, key
// roles that both the owner and the caller hold — src/access/api-key-grants.ts), the writes, and
// the typed change event each records (sessions signed in with the key re-check it at once).
// Who may manage whose keys is declared on the methods (`owner: "self-or-role"`, `targets`).

import type { Tx, Db } from "../store/db.js";
import { CallError, ValidationErrors, instanceNotFound } from "../server/errors.js";
import { accessFor, type MethodTable } from "../access/authorize.js";
import { checkKeyRoles } from "../access/api-key-grants.js";
import type { Caller } from "../access/grant-check.js";
import { hasFleetAccess, rolesOfUser } from "../access/privileges.js";
import { REDACTED } from "../audit/audit.js";
import { changeOf, type ChangeEvent } from "../store/change-event.js";
import { commitChange, recordChange } from "../store/changes.js";
import type { ApiKeyCreateInput, ApiKeyUpdateInput } from "./api-key-inputs.js";
import { API_KEY_SECRET_FIELDS, apiKeyEntries, issueKeyMaterial, revokeApiKey, type ApiKeyEntry } from "./api-keys.js";

export const API_KEY_SECRETS: string[] = [...API_KEY_SECRET_FIELDS];

/** What managing keys needs: the store, the STIG switch, role expansion, events and the change feed. */
export interface ApiKeyAdminContext {
  app: {
    readonly store: { readonly db: Db };
    readonly auth: { stig(): Promise<boolean> };
    readonly registry: MethodTable;
    readonly config: { readonly scramIterations: number };
    readonly events: { publish(collection: string, type: "added" | "changed" | "removed", id: number, fields?: Record<string, unknown>): void };
    changed(ev: ChangeEvent): void;
  };
  session: (Caller & { username: string }) | null;
  /** Set for the audit label: the key's name as read from the store (AuditFacts). */
  auditSubject?: string;
}

/** An entry for api_key.query events: every secret field redacted. */
function redactedKeyEntry(entry: ApiKeyEntry): Record<string, unknown> {
  const out: Record<string, unknown> = { ...entry };
  for (const f of API_KEY_SECRETS) out[f] = REDACTED;
  return out;
}

export async function apiKeyById(db: Tx, id: number): Promise<ApiKeyEntry> {
  const entry = (await apiKeyEntries(db)).find((k) => k.id === id);
  if (!entry) instanceNotFound("ApiKey", id, "api_key.not_found");
  return entry;
}

/** STIG refuses every change to API keys. */
async function checkMayChange(ctx: ApiKeyAdminContext): Promise<void> {
  if (await ctx.app.auth.stig()) throw new CallError("Changes to API keys are not permitted in GPOS STIG mode", "api_key.stig_forbids");
}

/** Validate name, owner, expiry and roles; returns the owner's user id. */
async function validateKey(ctx: ApiKeyAdminContext, schema: string, data: ApiKeyCreateInput, ownId: number | null, changed: { expires_at: boolean }): Promise<number> {
  const db = ctx.app.store.db;
  const errors = new ValidationErrors();
  const dup = await db.selectFrom("api_keys").select("id").where("name", "=", data.name).executeTakeFirst();
  if (dup && dup.id !== ownId) errors.add(`${schema}.name`, "name must be unique", "api_key.name_taken");
  if (changed.expires_at && data.expires_at && data.expires_at.getTime() <= Date.now()) {
    errors.add(`${schema}.expires_at`, "Expiration date is in the past", "api_key.expired");
  }
  const owner = await db.selectFrom("users").select(["id"]).where("username", "=", data.username).executeTakeFirst();
  if (!owner) {
    errors.add(`${schema}.username`, "User does not exist.", "user.not_found");
    errors.check();
    return 0;
  }
  const stig = await ctx.app.auth.stig();
  const ownerRoles = accessFor(ctx.app.registry, await rolesOfUser(db, owner.id), stig).roles;
  // A user without a role who signs in on fleet access may own keys too (to script its fleet calls).
  if (!ownerRoles.size && !(await hasFleetAccess(db, owner.id))) errors.add(`${schema}.username`, "User lacks privilege role membership.", "api_key.owner_without_roles");
  checkKeyRoles(errors, schema, ctx.session, data.roles, ownerRoles);
  errors.check();
  return owner.id;
}

/** A new key for `data.username`; its secret (`key`, `client_key`) is returned only here. */
export async function createApiKey(ctx: ApiKeyAdminContext, data: ApiKeyCreateInput) {
  await checkMayChange(ctx);
  const userId = await validateKey(ctx, "api_key_create", data, null, { expires_at: true });
  const material = await issueKeyMaterial(ctx.app.config.scramIterations);
  const db = ctx.app.store.db;
  const id = await db.transaction().execute(async (trx) => {
    const row = await trx
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
    await recordChange(trx, changeOf({ apiKeys: [row.id], users: [userId] }));
    return row.id;
  });
  ctx.app.changed(changeOf({ apiKeys: [id], users: [userId] }));
  const entry = await apiKeyById(db, id);
  ctx.app.events.publish("api_key.query", "added", entry.id, redactedKeyEntry(entry));
  return { ...entry, key: `${id}-${material.secret}`, client_key: material.client_key };
}

/** Rename, change expiry or roles, or (reset) issue a new secret and lift a revocation. */
export async function updateApiKey(ctx: ApiKeyAdminContext, id: number, data: ApiKeyUpdateInput) {
  const db = ctx.app.store.db;
  const old = await apiKeyById(db, id);
  ctx.auditSubject = old.name;
  await checkMayChange(ctx);
  const next = {
    name: data.name ?? old.name,
    username: old.username ?? "",
    expires_at: data.expires_at === undefined ? old.expires_at : data.expires_at,
    roles: data.roles === undefined ? old.roles : data.roles,
  };
  const userId = await validateKey(ctx, "api_key_update", next, id, { expires_at: data.expires_at !== undefined });
  // A reset draws a new secret and a new SCRAM salt.
  const material = data.reset ? await issueKeyMaterial(ctx.app.config.scramIterations) : null;
  await commitChange(ctx.app, changeOf({ apiKeys: [id], users: [userId] }), (trx) =>
    trx
      .updateTable("api_keys")
      .set({
        name: next.name,
        expires_at: next.expires_at ? next.expires_at.getTime() : null,
        roles: next.roles ? JSON.stringify(next.roles) : null,
        ...(material ? { ...material.columns, revoked: 0, revoked_reason: null } : {}),
      })
      .where("id", "=", id)
      .execute(),
  );
  const entry = await apiKeyById(db, id);
  ctx.app.events.publish("api_key.query", "changed", id, redactedKeyEntry(entry));
  return material ? { ...entry, key: `${id}-${material.secret}`, client_key: material.client_key } : entry;
}

export async function deleteApiKey(ctx: ApiKeyAdminContext, id: number): Promise<true> {
  ctx.auditSubject = (await apiKeyById(ctx.app.store.db, id)).name; // no such key: ENOENT
  await checkMayChange(ctx);
  await commitChange(ctx.app, changeOf({ apiKeys: [id] }), (trx) => trx.deleteFrom("api_keys").where("id", "=", id).execute());
  ctx.app.events.publish("api_key.query", "removed", id);
  return true;
}

/** Revoke on purpose (beyond the reference: a leak, a departed script); reset issues a new one. */
export async function revokeApiKeyOnRequest(ctx: ApiKeyAdminContext, id: number, reason: string | null): Promise<ApiKeyEntry> {
  const db = ctx.app.store.db;
  ctx.auditSubject = (await apiKeyById(db, id)).name; // no such key: ENOENT
  await checkMayChange(ctx);
  await commitChange(ctx.app, changeOf({ apiKeys: [id] }), (trx) => revokeApiKey(trx, id, reason ?? `Revoked by ${ctx.session?.username ?? "the server"}`));
  const entry = await apiKeyById(db, id);
  ctx.app.events.publish("api_key.query", "changed", id, redactedKeyEntry(entry));
  return entry;
}
