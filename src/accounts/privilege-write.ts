// privilege.create / update / delete (reference §4), with the grant rule of issue 9: a privilege
// change gives its roles to every member of its groups (local and directory), so the caller must
// hold every role it adds, and every role of the privilege when it gains a group; taking roles
// away from accounts (removing roles or groups, deleting it) needs them too. Checked inside the
// write's transaction.

import type { Tx } from "../store/db.js";
import { CallError, ValidationErrors, instanceNotFound } from "../server/errors.js";
import { isRoleName } from "../access/roles.js";
import { privilegeEntries, type PrivilegeEntry } from "../access/privileges.js";
import { assertMayGrant, type GrantDelta } from "../access/grant-check.js";
import type { AccountContext } from "./context.js";
import { changeOf } from "../store/change-event.js";
import { recordChange } from "../store/changes.js";
import { accountSnapshot } from "./privileges.js";
import { expanded } from "./grant-delta.js";
import { BUILTIN_ADMINISTRATORS_GID } from "./group-entry.js";
import type { PrivilegeCreateInput, PrivilegeUpdateInput } from "./inputs.js";

/** A whole privilege as written (privilege.create's parsed argument, or an update merged onto the old entry). */
export type PrivilegeData = PrivilegeCreateInput;

type Grants = Pick<PrivilegeData, "local_groups" | "ds_groups" | "roles"> & { web_shell?: boolean };

/**
 * The roles a privilege change gives or takes away (expanded). `old` null: created; `next` null:
 * deleted. Roles of a privilege without any group reach nobody, but are still counted when added,
 * so nobody parks a role they do not hold on a privilege for later.
 */
export function privilegeDelta(old: Grants | null, next: Grants | null, stig: boolean, attr: string): GrantDelta {
  const groupsOf = (p: Grants | null) => new Set((p ? [...p.local_groups, ...p.ds_groups] : []).map(String));
  const oldGroups = groupsOf(old);
  const newGroups = groupsOf(next);
  const oldRoles = expanded(old?.roles ?? [], stig);
  const newRoles = expanded(next?.roles ?? [], stig);
  const groupAdded = [...newGroups].some((g) => !oldGroups.has(g));
  const groupRemoved = [...oldGroups].some((g) => !newGroups.has(g));
  const gained = groupAdded ? [...newRoles] : [...newRoles].filter((r) => !oldRoles.has(r));
  const lost = !oldGroups.size ? [] : groupRemoved ? [...oldRoles] : [...oldRoles].filter((r) => !newRoles.has(r));
  // A web shell is a shell on the host: giving it (turning it on, or a group joining a privilege
  // that has it) is for FULL_ADMIN, like sudo rights.
  const shellGiven = !!next?.web_shell && (!old?.web_shell || groupAdded);
  return { gained, lost, attr, fullAdmin: shellGiven ? [{ attr, what: "giving web shell access" }] : [] };
}

/** Validate a complete privilege (after merging an update); `schema` is privilege_create / privilege_update. */
export async function validatePrivilege(db: Tx, schema: string, data: PrivilegeData, old: PrivilegeEntry | null): Promise<void> {
  const errors = new ValidationErrors();
  const dup = await db.selectFrom("privileges").select("id").where("name", "=", data.name).executeTakeFirst();
  if (dup && dup.id !== old?.id) errors.add(`${schema}.name`, "Object with this name already exists", "privilege.name_taken");
  for (const [i, gid] of data.local_groups.entries()) {
    const g = await db.selectFrom("groups").select(["id", "userns_idmap"]).where("gid", "=", gid).executeTakeFirst();
    if (!g) errors.add(`${schema}.local_groups.${i}`, `${gid}: local group does not exist. Only local groups may be assigned with local_groups.`, "privilege.group_not_found");
    // The appliance always spells this attribute privilege_update (reference §14).
    else if (g.userns_idmap) errors.add(`privilege_update.local_groups.${i}`, `${gid}: group has a user namespace idmap configured.`, "privilege.group_has_idmap");
  }
  data.roles.forEach((r, i) => {
    if (!isRoleName(r)) errors.add(`${schema}.roles.${i}`, "Invalid role", "access.invalid_role");
  });
  if (old?.builtin_name) {
    const ro = "This field is read-only for built-in privileges";
    if (data.name !== old.name) errors.add(`${schema}.name`, ro, "privilege.builtin_field");
    if (JSON.stringify([...data.roles].sort()) !== JSON.stringify([...old.roles].sort())) errors.add(`${schema}.roles`, ro, "privilege.builtin_field");
    if (old.builtin_name === "LOCAL_ADMINISTRATOR") {
      if (!data.local_groups.includes(BUILTIN_ADMINISTRATORS_GID)) {
        errors.add(`${schema}.local_groups`, `The ${old.name} privilege must include the builtin_administrators group (gid ${BUILTIN_ADMINISTRATORS_GID}).`, "privilege.builtin_admins_required");
      } else if (!(await hasPasswordMember(db, data.local_groups))) {
        errors.add(`${schema}.local_groups`, `At least one member of the ${old.name} privilege must have a password.`, "privilege.member_password_required");
      }
    }
    if (old.builtin_name === "READONLY_ADMINISTRATOR" && data.web_shell) {
      errors.add(`${schema}.web_shell`, "Web shell access may not be granted to the read-only administrator privilege.", "privilege.readonly_web_shell");
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
  if (!entry) instanceNotFound("Privilege", id, "privilege.not_found");
  return entry;
}

function grantsOf(entry: PrivilegeEntry): Grants {
  return {
    local_groups: entry.local_groups.map((g) => g.gid as number),
    ds_groups: entry.ds_groups.map((g) => (g.gid ?? g.sid ?? g.group) as number | string),
    roles: entry.roles,
    web_shell: entry.web_shell,
  };
}

async function stigOf(trx: Tx): Promise<boolean> {
  return !!(await accountSnapshot(trx)).security.enable_gpos_stig;
}

function columns(data: PrivilegeData) {
  return {
    name: data.name,
    local_groups: JSON.stringify(data.local_groups),
    ds_groups: JSON.stringify(data.ds_groups),
    roles: JSON.stringify(data.roles),
    web_shell: data.web_shell ? 1 : 0,
  };
}

export async function createPrivilege(ctx: AccountContext, data: PrivilegeData): Promise<PrivilegeEntry> {
  const entry = await ctx.app.store.db.transaction().execute(async (trx) => {
    await validatePrivilege(trx, "privilege_create", data, null);
    assertMayGrant(ctx.session, privilegeDelta(null, data, await stigOf(trx), "privilege_create.roles"));
    const row = await trx
      .insertInto("privileges")
      .values({ builtin_name: null, ...columns(data) })
      .returning("id")
      .executeTakeFirstOrThrow();
    await recordChange(trx, changeOf({ privileges: [row.id] }));
    return privilegeById(trx, row.id);
  });
  ctx.app.events.publish("privilege.query", "added", entry.id, entry);
  ctx.app.changed(changeOf({ privileges: [entry.id] }));
  return entry;
}

export async function updatePrivilege(ctx: AccountContext, id: number, data: PrivilegeUpdateInput): Promise<PrivilegeEntry> {
  const entry = await ctx.app.store.db.transaction().execute(async (trx) => {
    const old = await privilegeById(trx, id);
    ctx.auditSubject = old.name;
    const before = grantsOf(old);
    const next: PrivilegeData = {
      name: data.name ?? old.name,
      local_groups: data.local_groups ?? before.local_groups,
      ds_groups: data.ds_groups ?? before.ds_groups,
      roles: data.roles ?? old.roles,
      web_shell: data.web_shell ?? old.web_shell,
    };
    await validatePrivilege(trx, "privilege_update", next, old);
    assertMayGrant(ctx.session, privilegeDelta(before, next, await stigOf(trx), "privilege_update"));
    await trx.updateTable("privileges").set(columns(next)).where("id", "=", id).execute();
    await recordChange(trx, changeOf({ privileges: [id] }));
    return privilegeById(trx, id);
  });
  ctx.app.events.publish("privilege.query", "changed", entry.id, entry);
  ctx.app.changed(changeOf({ privileges: [id] }));
  return entry;
}

export async function deletePrivilege(ctx: AccountContext, id: number): Promise<true> {
  await ctx.app.store.db.transaction().execute(async (trx) => {
    const old = await privilegeById(trx, id);
    ctx.auditSubject = old.name;
    if (old.builtin_name) throw new CallError("Unable to delete built-in privilege", "privilege.builtin_delete");
    assertMayGrant(ctx.session, privilegeDelta(grantsOf(old), null, await stigOf(trx), "privilege_delete"));
    await trx.deleteFrom("privileges").where("id", "=", id).execute();
    await recordChange(trx, changeOf({ privileges: [id] }));
  });
  ctx.app.events.publish("privilege.query", "removed", id);
  ctx.app.changed(changeOf({ privileges: [id] }));
  return true;
}
