// Shared by the privilege.* methods: input schemas and the validation rules of reference §4.

import { z } from "zod";
import type { Tx } from "../../store/db.js";
import { ERRNO, ValidationErrors, instanceNotFound } from "../../server/errors.js";
import { isRoleName } from "../../access/roles.js";
import { privilegeEntries, type PrivilegeEntry } from "../../access/privileges.js";

export const PrivilegeFields = {
  name: z.string().min(1).max(200),
  local_groups: z.array(z.number().int()),
  ds_groups: z.array(z.union([z.number().int(), z.string().min(1)])),
  roles: z.array(z.string()),
  web_shell: z.boolean(),
};

export const PrivilegeCreate = z.strictObject({
  name: PrivilegeFields.name,
  local_groups: PrivilegeFields.local_groups.default([]),
  ds_groups: PrivilegeFields.ds_groups.default([]),
  roles: PrivilegeFields.roles.default([]),
  web_shell: PrivilegeFields.web_shell,
});

export const PrivilegeUpdate = z.strictObject({
  name: PrivilegeFields.name.optional(),
  local_groups: PrivilegeFields.local_groups.optional(),
  ds_groups: PrivilegeFields.ds_groups.optional(),
  roles: PrivilegeFields.roles.optional(),
  web_shell: PrivilegeFields.web_shell.optional(),
});

export interface PrivilegeData {
  name: string;
  local_groups: number[];
  ds_groups: (number | string)[];
  roles: string[];
  web_shell: boolean;
}

export const BUILTIN_ADMINISTRATORS_GID = 544;

/** Validate a complete privilege (after merging an update); `schema` is privilege_create / privilege_update. */
export async function validatePrivilege(db: Tx, schema: string, data: PrivilegeData, old: PrivilegeEntry | null): Promise<void> {
  const errors = new ValidationErrors();
  const dup = await db.selectFrom("privileges").select("id").where("name", "=", data.name).executeTakeFirst();
  if (dup && dup.id !== old?.id) errors.add(`${schema}.name`, "Object with this name already exists", ERRNO.EEXIST);
  for (const [i, gid] of data.local_groups.entries()) {
    const g = await db.selectFrom("groups").select(["id", "userns_idmap"]).where("gid", "=", gid).executeTakeFirst();
    if (!g) errors.add(`${schema}.local_groups.${i}`, `${gid}: local group does not exist. Only local groups may be assigned with local_groups.`, ERRNO.ENOENT);
    // The appliance always spells this attribute privilege_update (reference §14).
    else if (g.userns_idmap) errors.add(`privilege_update.local_groups.${i}`, `${gid}: group has a user namespace idmap configured.`);
  }
  data.roles.forEach((r, i) => {
    if (!isRoleName(r)) errors.add(`${schema}.roles.${i}`, "Invalid role");
  });
  if (old?.builtin_name) {
    const ro = "This field is read-only for built-in privileges";
    if (data.name !== old.name) errors.add(`${schema}.name`, ro);
    if (JSON.stringify([...data.roles].sort()) !== JSON.stringify([...old.roles].sort())) errors.add(`${schema}.roles`, ro);
    if (old.builtin_name === "LOCAL_ADMINISTRATOR") {
      if (!data.local_groups.includes(BUILTIN_ADMINISTRATORS_GID)) {
        errors.add(`${schema}.local_groups`, `The ${old.name} privilege must include the builtin_administrators group (gid ${BUILTIN_ADMINISTRATORS_GID}).`);
      } else if (!(await hasPasswordMember(db, data.local_groups))) {
        errors.add(`${schema}.local_groups`, `At least one member of the ${old.name} privilege must have a password.`);
      }
    }
    if (old.builtin_name === "READONLY_ADMINISTRATOR" && data.web_shell) {
      errors.add(`${schema}.web_shell`, "Web shell access may not be granted to the read-only administrator privilege.");
    }
  }
  errors.check();
}

/** Is some password-enabled user a member (primary or auxiliary) of one of `gids`? */
async function hasPasswordMember(db: Tx, gids: number[]): Promise<boolean> {
  const groupIds = (await db.selectFrom("groups").select("id").where("gid", "in", gids).execute()).map((g) => g.id);
  if (!groupIds.length) return false;
  const aux = (await db.selectFrom("memberships").select("user_id").where("group_id", "in", groupIds).execute()).map((m) => m.user_id);
  const users = await db
    .selectFrom("users")
    .select("unixhash")
    .where("password_disabled", "=", 0)
    .where((eb) => eb.or([eb("group_id", "in", groupIds), ...(aux.length ? [eb("id", "in", aux)] : [])]))
    .execute();
  return users.some((u) => !!u.unixhash?.startsWith("$"));
}

export async function privilegeById(db: Tx, id: number): Promise<PrivilegeEntry> {
  const [entry] = await privilegeEntries(db, { id });
  if (!entry) instanceNotFound("Privilege", id);
  return entry;
}
