// group.create / group.update / group.delete (reference §2.2). Same shape as the user services:
// validate everything, then one transaction. Groups have no filesystem side, so nothing but rows
// changes here (host files follow through the typed change event, App.changed).

import { CallError, ValidationErrors, instanceNotFound } from "../server/errors.js";
import type { Tx } from "../store/db.js";
import type { AccountContext } from "./context.js";
import { changeOf, type ChangeEvent } from "../store/change-event.js";
import { recordChange } from "../store/changes.js";
import { validateGroupName } from "./names.js";
import { allocateId, claimExplicitId, releaseReservation } from "./ids.js";
import { groupConflictError, violatedKey, withIdRetry } from "./uniqueness.js";
import { privilegeRows, rolesForGids } from "./privileges.js";
import { BUILTIN_ADMINISTRATORS_GID, EDITABLE_BUILTIN_GIDS } from "./group-entry.js";
import { localAdministratorGids, membersOfGids, usersByIds, type MemberRow } from "./admins.js";
import { afterUserDeleted, deleteUserRows, type DeletedUser } from "./user-delete.js";
import { isUniqueViolation } from "./user-create.js";
import { checkSudo, DS_ID_BASE, smbCaseTwin } from "./user-rules.js";
import type { GroupCreateInput, GroupUpdateInput } from "./inputs.js";
import { accountGrants, grantDelta, sudoFieldNeeds } from "./grant-delta.js";
import { assertMayGrant } from "../access/grant-check.js";
import { jsonList } from "./privileges.js";

const SMB_BUILTIN_NAMES = new Set(["administrators", "guests", "users"]);
const NOGROUP_GID = 65534;

async function checkName(db: Tx, v: ValidationErrors, schema: string, name: string, smb: boolean, selfId: number | null, nameChanged: boolean): Promise<void> {
  if (nameChanged) {
    if (!validateGroupName(v, `${schema}.name`, name)) return;
    const taken = await db.selectFrom("groups").select("id").where("name", "=", name).executeTakeFirst();
    if (taken && taken.id !== selfId) v.add(`${schema}.name`, `A Group with the name "${name}" already exists.`, "group.name_taken");
  }
  if (!smb) return;
  // Samba maps group names case-insensitively and reserves its BUILTIN names.
  if (SMB_BUILTIN_NAMES.has(name.toLowerCase())) {
    v.add(`${schema}.name`, `${name}: group name conflicts with existing SMB Builtin entry. SMB group mapping is not permitted for this group.`, "group.name_smb_builtin");
    return;
  }
  const twin = await smbCaseTwin(db, "groups", name, selfId);
  if (twin !== null) v.add(`${schema}.name`, `${name}: group name conflicts with existing groupmap entry (${twin}).`, "group.name_groupmap_conflict");
}

/** Members given as user ids: local, existing, and root only in builtin_administrators. */
async function checkUsers(
  db: Tx,
  v: ValidationErrors,
  schema: string,
  users: number[],
  gid: number | null,
  currentMembers: ReadonlySet<number>,
): Promise<Map<number, { id: number; uid: number; username: string }>> {
  const attr = `${schema}.users`;
  if (users.some((u) => u >= DS_ID_BASE)) v.add(attr, "Directory services users may not be added as members of local groups.", "group.member_directory_user");
  const local = users.filter((u) => u < DS_ID_BASE);
  const rows = local.length ? await db.selectFrom("users").select(["id", "uid", "username"]).where("id", "in", local).execute() : [];
  const byId = new Map(rows.map((r) => [r.id, r]));
  const missing = [...new Set(local.filter((u) => !byId.has(u)))];
  if (missing.length) v.add(attr, `Following users do not exist: ${missing.join(", ")}`, "group.member_not_found");
  const root = rows.find((r) => r.uid === 0);
  if (root && gid !== BUILTIN_ADMINISTRATORS_GID && !currentMembers.has(root.id)) v.add(attr, "Cannot add the root user to this group", "group.member_root");
  return byId;
}

async function checkGroupIdmap(db: Tx, v: ValidationErrors, attr: string, value: "DIRECT" | number | null | undefined, gid: number | null, selfId: number | null, builtin: boolean): Promise<void> {
  if (value === null || value === undefined) return;
  if (builtin) return void v.add(attr, "User namespace idmaps may not be configured for builtin accounts.", "idmap.builtin_account");
  if (gid !== null && rolesForGids(await privilegeRows(db), [gid]).length) {
    return void v.add(attr, "User namespace idmaps may not be configured for privileged accounts.", "idmap.privileged_account");
  }
  if (typeof value === "number") {
    let q = db.selectFrom("groups").select(["id", "name"]).where("userns_idmap", "=", String(value));
    if (selfId !== null) q = q.where("id", "!=", selfId);
    const other = await q.executeTakeFirst();
    if (other) v.add(attr, `Group '${other.name}' already maps to container GID ${value}.`, "idmap.container_id_taken");
  }
}

export async function createGroup(ctx: AccountContext, input: GroupCreateInput): Promise<number> {
  const { app } = ctx;
  const db = app.store.db;
  const schema = "group_create";
  const v = new ValidationErrors();
  const smb = input.smb ?? true;
  const users = input.users ?? [];
  await checkName(db, v, schema, input.name, smb, null, true);
  const gidGiven = input.gid ?? null;
  if (gidGiven !== null) {
    const owner = await db.selectFrom("groups").select("name").where("gid", "=", gidGiven).executeTakeFirst();
    if (owner) v.add(`${schema}.gid`, `Gid ${gidGiven} is already used (group ${owner.name} has it)`, "group.gid_taken");
    else {
      const p = (await privilegeRows(db)).find((x) => x.gids.has(gidGiven));
      if (p) v.add(`${schema}.gid`, `A privilege '${p.name}' already uses this group ID.`, "group.gid_used_by_privilege");
    }
  }
  await checkUsers(db, v, schema, users, gidGiven, new Set());
  await checkGroupIdmap(db, v, `${schema}.userns_idmap`, input.userns_idmap, gidGiven, null, false);
  checkSudo(app, v, schema, input);
  v.check();

  let id: number;
  let change: ChangeEvent | undefined;
  try {
    // Uniqueness under concurrency (docs/security/concurrency.md): the gid is claimed inside the
    // transaction; an automatic one is tried again if a writer that does not claim took it.
    id = await withIdRetry(
      (k) => k === "gid" && gidGiven === null,
      () =>
        db.transaction().execute(async (trx) => {
          const grantsBefore = await accountGrants(trx, users);
          const dialect = app.store.dialect;
          if (gidGiven !== null) {
            const owner = await claimExplicitId(trx, dialect, "gid", gidGiven);
            if (owner !== null) throw new ValidationErrors([[`${schema}.gid`, `Gid ${gidGiven} is already used (group ${owner} has it)`, "group.gid_taken"]]);
          }
          const gid = gidGiven ?? (await allocateId(trx, dialect, "gid"));
          const row = await trx
            .insertInto("groups")
            .values({
              gid,
              name: input.name,
              builtin: 0,
              smb: smb ? 1 : 0,
              sudo_commands: JSON.stringify(input.sudo_commands ?? []),
              sudo_commands_nopasswd: JSON.stringify(input.sudo_commands_nopasswd ?? []),
              userns_idmap: input.userns_idmap == null ? null : String(input.userns_idmap),
            })
            .returning("id")
            .executeTakeFirstOrThrow();
          const members = [...new Set(users)];
          if (members.length)
            await trx
              .insertInto("memberships")
              .values(members.map((user_id) => ({ group_id: row.id, user_id })))
              .execute();
          // Nobody grants what they do not hold: the members' new roles and sudo rights.
          const delta = grantDelta(grantsBefore, await accountGrants(trx, members), `${schema}.users`);
          assertMayGrant(ctx.session, { ...delta, fullAdmin: [...sudoFieldNeeds(schema, input, null), ...delta.fullAdmin!] });
          await releaseReservation(trx, "gid", gid);
          change = changeOf({ users, groups: [row.id] });
          await recordChange(trx, change);
          return row.id;
        }),
    );
  } catch (err) {
    const key = violatedKey(err);
    const conflict = key && (await groupConflictError(db, schema, key, { name: input.name, gid: gidGiven }));
    if (conflict) throw conflict;
    if (isUniqueViolation(err)) throw new ValidationErrors([[`${schema}.name`, `A Group with the name "${input.name}" already exists.`, "group.name_taken"]]);
    throw err;
  }
  app.changed(change!);
  return id;
}

export async function updateGroup(ctx: AccountContext, id: number, input: GroupUpdateInput): Promise<number> {
  const { app } = ctx;
  const db = app.store.db;
  const schema = "group_update";
  const group = await db.selectFrom("groups").selectAll().where("id", "=", id).executeTakeFirst();
  if (!group) instanceNotFound("Group", id, "group.not_found");
  ctx.auditSubject = group.name;
  const v = new ValidationErrors();
  const builtin = !!group.builtin;
  if (builtin && !EDITABLE_BUILTIN_GIDS.has(group.gid)) {
    v.add(`${schema}.id`, "Immutable groups cannot be changed", "group.immutable");
    v.check();
  }
  const sent = <K extends keyof GroupUpdateInput>(k: K) => input[k] !== undefined;
  const name = input.name ?? group.name;
  const smb = input.smb ?? !!group.smb;
  if (builtin) {
    const fixed = "This configuration parameter may not be changed for builtin groups.";
    if (sent("name") && input.name !== group.name) v.add(`${schema}.name`, fixed, "group.builtin_field");
    if (sent("smb") && input.smb !== !!group.smb) v.add(`${schema}.smb`, fixed, "group.builtin_field");
    for (const k of ["sudo_commands", "sudo_commands_nopasswd"] as const) {
      if (sent(k) && JSON.stringify(input[k]) !== group[k]) v.add(`${schema}.${k}`, fixed, "group.builtin_field");
    }
  } else if (sent("name") || (sent("smb") && input.smb && !group.smb)) {
    await checkName(db, v, schema, name, smb, id, sent("name") && name !== group.name);
  }

  const primary = await db.selectFrom("users").select(["id", "username"]).where("group_id", "=", id).orderBy("id").execute();
  const currentAux = (await db.selectFrom("memberships").select("user_id").where("group_id", "=", id).execute()).map((r) => r.user_id);
  let newAux: number[] | null = null;
  if (sent("users")) {
    const users = input.users!;
    const wanted = new Set(users);
    const rows = await checkUsers(db, v, schema, users, group.gid, new Set([...currentAux, ...primary.map((p) => p.id)]));
    const dropped = primary.filter((p) => !wanted.has(p.id));
    if (dropped.length) v.add(`${schema}.users`, `This group is primary for the following users: ${dropped.map((p) => p.username).join(", ")}`, "group.primary_for_members");
    if (group.gid === BUILTIN_ADMINISTRATORS_GID) {
      const root = await db.selectFrom("users").select("id").where("uid", "=", 0).where("builtin", "=", 1).executeTakeFirst();
      if (root && currentAux.includes(root.id) && !wanted.has(root.id)) {
        v.add(`${schema}.users`, "The root user must remain a member of the builtin_administrators group.", "group.root_must_stay_admin");
      }
    }
    const primaryIds = new Set(primary.map((p) => p.id));
    newAux = [...wanted].filter((u) => !primaryIds.has(u) && rows.has(u));
    // Keep a password-enabled, unlocked member in the Local Administrator privilege's groups.
    const adminGids = await localAdministratorGids(db);
    if (adminGids.includes(group.gid)) {
      const usable = (u: MemberRow) => !u.password_disabled && !u.locked;
      const before = (await membersOfGids(db, adminGids)).filter(usable);
      const others = (
        await membersOfGids(
          db,
          adminGids.filter((g) => g !== group.gid),
        )
      ).filter(usable);
      const after = (await usersByIds(db, [...primaryIds, ...newAux])).filter(usable);
      if (before.length && !others.length && !after.length) {
        v.add(`${schema}.users`, "After this change no password-enabled local user will have built-in privilege 'Local Administrator'.", "access.last_local_administrator");
      }
    }
  }
  if (input.userns_idmap !== undefined && input.userns_idmap !== null && String(input.userns_idmap) !== group.userns_idmap) {
    await checkGroupIdmap(db, v, `${schema}.userns_idmap`, input.userns_idmap, group.gid, id, builtin);
  }
  if (!builtin) checkSudo(app, v, schema, input);
  v.check();

  let change: ChangeEvent | undefined;
  try {
    await db.transaction().execute(async (trx) => {
      const touched = [...primary.map((p) => p.id), ...currentAux, ...(newAux ?? [])];
      change = changeOf({ users: touched, groups: [id] });
      await recordChange(trx, change);
      const grantsBefore = await accountGrants(trx, touched);
      const set: Record<string, unknown> = {};
      if (sent("name")) set.name = name;
      if (sent("smb")) set.smb = smb ? 1 : 0;
      if (sent("sudo_commands")) set.sudo_commands = JSON.stringify(input.sudo_commands);
      if (sent("sudo_commands_nopasswd")) set.sudo_commands_nopasswd = JSON.stringify(input.sudo_commands_nopasswd);
      if (input.userns_idmap !== undefined) set.userns_idmap = input.userns_idmap === null ? null : String(input.userns_idmap);
      if (Object.keys(set).length) await trx.updateTable("groups").set(set).where("id", "=", id).execute();
      if (newAux) {
        const want = new Set(newAux);
        const have = new Set(currentAux);
        const removed = currentAux.filter((u) => !want.has(u));
        const added = newAux.filter((u) => !have.has(u));
        if (removed.length) await trx.deleteFrom("memberships").where("group_id", "=", id).where("user_id", "in", removed).execute();
        if (added.length)
          await trx
            .insertInto("memberships")
            .values(added.map((user_id) => ({ group_id: id, user_id })))
            .execute();
      }
      // Nobody grants (or takes away) what they do not hold: members' roles, sudo rights, and
      // membership of a built-in group.
      const delta = grantDelta(grantsBefore, await accountGrants(trx, touched), `${schema}.users`);
      const current = { sudo_commands: jsonList<string>(group.sudo_commands), sudo_commands_nopasswd: jsonList<string>(group.sudo_commands_nopasswd) };
      assertMayGrant(ctx.session, { ...delta, fullAdmin: [...sudoFieldNeeds(schema, input, current), ...delta.fullAdmin!] });
    });
  } catch (err) {
    const key = violatedKey(err);
    const conflict = key && (await groupConflictError(db, schema, key, { name }));
    if (conflict) throw conflict;
    if (isUniqueViolation(err)) throw new ValidationErrors([[`${schema}.name`, `A Group with the name "${name}" already exists.`, "group.name_taken"]]);
    throw err;
  }
  app.changed(change!);
  return id;
}

export async function deleteGroup(ctx: AccountContext, id: number, opts: { delete_users: boolean }): Promise<number> {
  const { app } = ctx;
  const deletedUsers: DeletedUser[] = [];
  const touchedUsers: number[] = [];
  const touchedGroups: number[] = [id];
  const change = await app.store.db.transaction().execute(async (trx) => {
    const group = await trx.selectFrom("groups").selectAll().where("id", "=", id).executeTakeFirst();
    if (!group) instanceNotFound("Group", id, "group.not_found");
    ctx.auditSubject = group.name;
    if (group.builtin) throw new CallError("A built-in group cannot be deleted.", "group.builtin_delete");
    const p = (await privilegeRows(trx)).find((x) => x.gids.has(group.gid));
    if (p) throw new CallError(`This group is used by privilege '${p.name}'. Please remove it from that privilege first, then delete the group.`, "group.used_by_privilege");
    const primaryUsers = await trx.selectFrom("users").select("id").where("group_id", "=", id).orderBy("id").execute();
    touchedUsers.push(...primaryUsers.map((u) => u.id));
    touchedUsers.push(...(await trx.selectFrom("memberships").select("user_id").where("group_id", "=", id).execute()).map((m) => m.user_id));
    // Deleting users (delete_users) or moving them to nogroup changes what they may do: the
    // caller must hold every role and power they lose (a deleted user loses all of them).
    const grantsBefore = await accountGrants(trx, touchedUsers);
    if (primaryUsers.length) {
      if (opts.delete_users) {
        for (const u of primaryUsers) deletedUsers.push(await deleteUserRows(ctx, trx, u.id, false));
      } else {
        // Users keep existing with the catch-all group (reference §2.2).
        const nogroup = await trx.selectFrom("groups").select("id").where("gid", "=", NOGROUP_GID).orderBy("id").executeTakeFirst();
        if (nogroup) touchedGroups.push(nogroup.id);
        if (!nogroup) throw new CallError("The nogroup group does not exist; cannot re-assign the users of this group.", "group.nogroup_missing");
        await trx.updateTable("users").set({ group_id: nogroup.id }).where("group_id", "=", id).execute();
      }
    }
    await trx.deleteFrom("memberships").where("group_id", "=", id).execute();
    await trx.deleteFrom("groups").where("id", "=", id).execute();
    assertMayGrant(ctx.session, grantDelta(grantsBefore, await accountGrants(trx, touchedUsers), "group_delete"));
    const ev = changeOf({ users: touchedUsers, groups: [...touchedGroups, ...deletedUsers.flatMap((d) => d.touchedGroups)] });
    await recordChange(trx, ev);
    return ev;
  });
  for (const d of deletedUsers) await afterUserDeleted(ctx, d);
  app.events.publish("group.query", "removed", id);
  app.changed(change);
  return id;
}
