// What an account may do, as the grant rules see it (src/access/grant-check.ts), and what a change
// does to it. Every write that can change what an account may do reads the touched accounts'
// grants at the start of its transaction and again after its writes, and hands the difference to
// assertMayGrant before the commit: the check sees exactly what the write did, and a concurrent
// change cannot slip in between.
//
// Besides roles (from privileges on the primary and auxiliary groups), two host-level powers
// count: sudo rights (the user's own or a group's) and membership — auxiliary or primary — of a
// built-in group other than builtin_users and builtin_guests (shadow, sudo, disk, root, …). Either
// makes an account as powerful as FULL_ADMIN on the host, so giving or taking it needs FULL_ADMIN,
// and acting on an account that has it needs FULL_ADMIN too.

import type { Tx } from "../store/db.js";
import { expandRoles } from "../access/roles.js";
import { assertMayGrant, type Caller, type FullAdminNeed, type GrantDelta } from "../access/grant-check.js";
import { accountSnapshot, jsonList, rolesForGids } from "./privileges.js";
import { BUILTIN_GUESTS_GID, BUILTIN_USERS_GID } from "./group-entry.js";

/** nogroup: the server's own catch-all primary group (group.delete moves users there); it holds nothing. */
const NOGROUP_GID = 65534;
/** Built-in groups anyone with ACCOUNT_WRITE may hand out (SMB users join builtin_users automatically). */
const FREE_BUILTIN_GIDS: ReadonlySet<number> = new Set([BUILTIN_USERS_GID, BUILTIN_GUESTS_GID, NOGROUP_GID]);

export interface AccountGrant {
  /** Expanded roles from the privileges on the account's groups. */
  roles: ReadonlySet<string>;
  /** Host-level powers, each a stable key with a readable label (sudo rights, built-in groups). */
  powers: ReadonlyMap<string, string>;
  /** uid 0. */
  root: boolean;
}

const NONE: AccountGrant = { roles: new Set(), powers: new Map(), root: false };

/**
 * Group names a host's own configuration may give power to whatever their gid (sudoers' `%sudo`,
 * `%wheel`, `%admin`; pam_wheel; log, disk and container access), so a non-built-in group under one
 * of these names (a host without it, or a rename) counts as a built-in group too.
 */
const HOST_POWER_GROUP_NAMES: ReadonlySet<string> = new Set(["root", "sudo", "wheel", "admin", "adm", "shadow", "disk", "kmem", "docker", "lxd", "libvirt", "systemd-journal"]);

/** Is a group one whose membership only FULL_ADMIN may give (restricted built-in group)? */
export function isRestrictedBuiltinGroup(g: { builtin: number | boolean; gid: number; name?: string }): boolean {
  if (g.name !== undefined && HOST_POWER_GROUP_NAMES.has(g.name)) return true;
  return !!g.builtin && !FREE_BUILTIN_GIDS.has(g.gid);
}

function hasSudo(row: { sudo_commands: string; sudo_commands_nopasswd: string }): boolean {
  return jsonList(row.sudo_commands).length > 0 || jsonList(row.sudo_commands_nopasswd).length > 0;
}

/** The grants of the local users `ids` as stored now (in `db`'s transaction); missing users are absent. */
export async function accountGrants(db: Tx, ids: Iterable<number>): Promise<Map<number, AccountGrant>> {
  const list = [...new Set(ids)];
  const out = new Map<number, AccountGrant>();
  if (!list.length) return out;
  const users = await db.selectFrom("users").select(["id", "uid", "group_id", "sudo_commands", "sudo_commands_nopasswd"]).where("id", "in", list).execute();
  const aux = await db.selectFrom("memberships").select(["user_id", "group_id"]).where("user_id", "in", list).execute();
  const groupIds = [...new Set([...users.map((u) => u.group_id), ...aux.map((m) => m.group_id)])];
  const groups = groupIds.length ? await db.selectFrom("groups").select(["id", "gid", "name", "builtin", "sudo_commands", "sudo_commands_nopasswd"]).where("id", "in", groupIds).execute() : [];
  const groupById = new Map(groups.map((g) => [g.id, g]));
  const { privileges, security } = await accountSnapshot(db);
  const stig = !!security.enable_gpos_stig;
  for (const u of users) {
    const mine = [u.group_id, ...aux.filter((m) => m.user_id === u.id).map((m) => m.group_id)];
    const gids: number[] = [];
    const powers = new Map<string, string>();
    if (hasSudo(u)) powers.set(`sudo:user:${u.sudo_commands}:${u.sudo_commands_nopasswd}`, "sudo rights");
    for (const gid of mine) {
      const g = groupById.get(gid);
      if (!g) continue;
      gids.push(g.gid);
      if (hasSudo(g)) powers.set(`sudo:group:${g.id}:${g.sudo_commands}:${g.sudo_commands_nopasswd}`, `sudo rights (through group ${g.name})`);
      if (isRestrictedBuiltinGroup(g)) powers.set(`builtin:${g.id}`, `membership of the built-in group ${g.name}`);
    }
    out.set(u.id, { roles: expandRoles(rolesForGids(privileges, gids), { stig }), powers, root: u.uid === 0 });
  }
  return out;
}

/**
 * The roles an account amounts to for the act-on rule: its roles, plus FULL_ADMIN when it has a
 * host-level power or is root (its credentials are as good as FULL_ADMIN's).
 */
export function effectiveRoles(grant: AccountGrant): Set<string> {
  const roles = new Set(grant.roles);
  if (grant.root || grant.powers.size) roles.add("FULL_ADMIN");
  return roles;
}

/** Effective roles (see effectiveRoles) of the local users `ids`. */
export async function effectiveRolesOfUsers(db: Tx, ids: Iterable<number>): Promise<Map<number, Set<string>>> {
  const grants = await accountGrants(db, ids);
  return new Map([...grants].map(([id, g]) => [id, effectiveRoles(g)]));
}

/** What changed between two readings of the same accounts (a user absent after was deleted). */
export function grantDelta(before: ReadonlyMap<number, AccountGrant>, after: ReadonlyMap<number, AccountGrant>, attr: string): GrantDelta {
  const gained = new Set<string>();
  const lost = new Set<string>();
  const fullAdmin: FullAdminNeed[] = [];
  for (const id of new Set([...before.keys(), ...after.keys()])) {
    const b = before.get(id) ?? NONE;
    const a = after.get(id) ?? NONE;
    for (const r of a.roles) if (!b.roles.has(r)) gained.add(r);
    for (const r of b.roles) if (!a.roles.has(r)) lost.add(r);
    for (const [k, label] of a.powers) if (!b.powers.has(k)) fullAdmin.push({ attr, what: `giving ${label}` });
    for (const [k, label] of b.powers) if (!a.powers.has(k)) fullAdmin.push({ attr, what: `taking away ${label}` });
  }
  return { gained, lost, fullAdmin, attr };
}

/**
 * Inside a write's transaction: read the touched accounts' grants, run the writes, read them
 * again and check the difference (throwing rolls the transaction back). `touched` may grow
 * during the writes (a user created by them).
 */
export async function checkedGrantWrite<T>(caller: Caller | null, trx: Tx, touched: number[], attr: string, write: () => Promise<T>): Promise<T> {
  const before = await accountGrants(trx, touched);
  const result = await write();
  const after = await accountGrants(trx, touched);
  assertMayGrant(caller, grantDelta(before, after, attr));
  return result;
}

/** Sudo fields sent with a value different from the stored one (none stored: non-empty) need FULL_ADMIN. */
export function sudoFieldNeeds(
  schema: string,
  input: { sudo_commands?: string[]; sudo_commands_nopasswd?: string[] },
  current: { sudo_commands: readonly string[]; sudo_commands_nopasswd: readonly string[] } | null,
): FullAdminNeed[] {
  const needs: FullAdminNeed[] = [];
  for (const k of ["sudo_commands", "sudo_commands_nopasswd"] as const) {
    const sent = input[k];
    if (sent === undefined) continue;
    const changed = current ? JSON.stringify(sent) !== JSON.stringify(current[k]) : sent.length > 0;
    if (changed) needs.push({ attr: `${schema}.${k}`, what: "setting sudo rights" });
  }
  return needs;
}

/** Roles (expanded) a set of raw roles amounts to. */
export function expanded(raw: Iterable<string>, stig: boolean): ReadonlySet<string> {
  return expandRoles(raw, { stig });
}
