// Shared by the api_key.* methods: validation of reference §6 (as adapted by SPEC: optional
// `roles`, a subset of what both the owner and the caller hold — src/access/api-key-grants.ts).
// Who may manage whose keys is declared on the methods (`owner: "self-or-role"`, `targets`).

import { z } from "zod";
import { renderableText } from "../../server/input-bounds.js";
import type { CallContext } from "../context.js";
import type { Tx } from "../../store/db.js";
import { CallError, ValidationErrors, instanceNotFound } from "../../server/errors.js";
import { accessFor } from "../../access/authorize.js";
import { checkKeyRoles } from "../../access/api-key-grants.js";
import { rolesOfUser } from "../../access/privileges.js";
import { API_KEY_SECRET_FIELDS, apiKeyEntries, type ApiKeyEntry } from "../../auth/api-keys.js";
import { REDACTED } from "../../audit/audit.js";

export const API_KEY_SECRETS: string[] = [...API_KEY_SECRET_FIELDS];

/** An entry for api_key.query events: every secret field redacted. */
export function redactedKeyEntry(entry: ApiKeyEntry): Record<string, unknown> {
  const out: Record<string, unknown> = { ...entry };
  for (const f of API_KEY_SECRETS) out[f] = REDACTED;
  return out;
}

export const ApiKeyFields = {
  name: renderableText(1, 200),
  username: z.string().min(1),
  // {"$date": ms} arrives as a Date; ISO-8601 text (CLI) is accepted too.
  expires_at: z.preprocess((v) => (typeof v === "string" ? new Date(v) : v), z.date()).nullable(),
  roles: z.array(z.string()).nullable(),
};

export async function apiKeyById(db: Tx, id: number): Promise<ApiKeyEntry> {
  const entry = (await apiKeyEntries(db)).find((k) => k.id === id);
  if (!entry) instanceNotFound("ApiKey", id, "api_key.not_found");
  return entry;
}

/** STIG refuses every change to API keys. */
export async function checkMayChange(ctx: CallContext): Promise<void> {
  if (await ctx.app.auth.stig()) throw new CallError("Changes to API keys are not permitted in GPOS STIG mode", "api_key.stig_forbids");
}

/** Validate name, owner, expiry and roles; returns the owner's user id. */
export async function validateKey(
  ctx: CallContext,
  schema: string,
  data: { name: string; username: string; expires_at: Date | null; roles: string[] | null },
  ownId: number | null,
  changed: { expires_at: boolean },
): Promise<number> {
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
  const ownerRaw = await rolesOfUser(db, owner.id);
  const ownerRoles = accessFor(ctx.app.registry, ownerRaw, stig).roles;
  if (!ownerRoles.size) errors.add(`${schema}.username`, "User lacks privilege role membership.", "api_key.owner_without_roles");
  checkKeyRoles(errors, schema, ctx.session, data.roles, ownerRoles);
  errors.check();
  return owner.id;
}
