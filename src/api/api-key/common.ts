// Shared by the api_key.* methods: the ownership rule, role limits and validation of reference §6
// (as adapted by SPEC: optional `roles`, a subset of what both the owner and the caller hold).

import { z } from "zod";
import type { CallContext } from "../context.js";
import type { Tx } from "../../store/db.js";
import { CallError, ERRNO, ValidationErrors, instanceNotFound } from "../../server/errors.js";
import { accessFor, holdsFullAdmin } from "../../access/authorize.js";
import { isRoleName } from "../../access/roles.js";
import { rolesOfUser } from "../../access/privileges.js";
import { apiKeyEntries, type ApiKeyEntry } from "../../auth/api-keys.js";

export const API_KEY_SECRETS = ["keyhash", "salt"];

export const ApiKeyFields = {
  name: z.string().min(1).max(200),
  username: z.string().min(1),
  // {"$date": ms} arrives as a Date; ISO-8601 text (CLI) is accepted too.
  expires_at: z.preprocess((v) => (typeof v === "string" ? new Date(v) : v), z.date()).nullable(),
  roles: z.array(z.string()).nullable(),
};

export async function apiKeyById(db: Tx, id: number): Promise<ApiKeyEntry> {
  const entry = (await apiKeyEntries(db)).find((k) => k.id === id);
  if (!entry) instanceNotFound("ApiKey", id);
  return entry;
}

/** STIG refuses every change; a caller without API_KEY_WRITE may only touch their own keys. */
export async function checkMayChange(ctx: CallContext, ownerUsername: string | null): Promise<void> {
  if (await ctx.app.auth.stig()) throw new CallError("Changes to API keys are not permitted in GPOS STIG mode", ERRNO.EACCES);
  const s = ctx.session!;
  if (holdsFullAdmin(s) || s.roles.has("API_KEY_WRITE")) return;
  if (ownerUsername !== s.username) {
    throw new CallError(`${s.username}: authenticated user lacks privileges to create or modify API keys of other users.`, ERRNO.EACCES);
  }
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
  if (dup && dup.id !== ownId) errors.add(`${schema}.name`, "name must be unique", ERRNO.EEXIST);
  if (changed.expires_at && data.expires_at && data.expires_at.getTime() <= Date.now()) {
    errors.add(`${schema}.expires_at`, "Expiration date is in the past");
  }
  const owner = await db.selectFrom("users").select(["id"]).where("username", "=", data.username).executeTakeFirst();
  if (!owner) {
    errors.add(`${schema}.username`, "User does not exist.", ERRNO.ENOENT);
    errors.check();
    return 0;
  }
  const stig = await ctx.app.auth.stig();
  const ownerRaw = await rolesOfUser(db, owner.id);
  const ownerRoles = accessFor(ctx.app.registry, ownerRaw, stig).roles;
  if (!ownerRoles.size) errors.add(`${schema}.username`, "User lacks privilege role membership.");
  const s = ctx.session!;
  const callerHolds = (r: string) => s.fullAdmin || s.internal || s.roles.has(r); // FULL_ADMIN's closure holds every role
  if (data.roles) {
    data.roles.forEach((r, i) => {
      const attr = `${schema}.roles.${i}`;
      if (!isRoleName(r)) errors.add(attr, "Invalid role");
      else if (!callerHolds(r)) errors.add(attr, `${r}: you cannot grant a role you do not hold.`, ERRNO.EPERM);
      else if (!ownerRoles.has(r)) errors.add(attr, `${r}: role is not held by the key's owner.`);
    });
  } else if (ownerRoles.size && ![...ownerRoles].every(callerHolds)) {
    errors.add(`${schema}.roles`, "The key's owner holds roles you do not hold: limit the key to roles you hold.", ERRNO.EPERM);
  }
  errors.check();
  return owner.id;
}
