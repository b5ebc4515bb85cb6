// Privileges link roles to groups (reference §4). A user's roles are the union over the
// privileges naming their primary or auxiliary local groups (by GID) or, for directory users,
// their directory groups (by gid, SID or name).

import type { Db, Tx } from "../store/db.js";
import type { PrivilegeTable } from "../store/schema.js";
import { sql, type Selectable } from "kysely";
import { buildGroupEntries, type GroupEntry } from "../accounts/group-entry.js";
import { param, prepare } from "../auth/prepared.js";
import { hasAnySystemAccess } from "../fleet/effective-access.js";
import type { z } from "zod";
import type { PrivilegeEntrySchema } from "./schemas.js";

export type PrivilegeRow = Selectable<PrivilegeTable>;

export interface Grant {
  /** Raw (unexpanded) privilege roles. */
  roles: string[];
  webShell: boolean;
}

export async function gidsOfUser(db: Tx, userId: number): Promise<number[]> {
  const primary = await db.selectFrom("users").innerJoin("groups", "groups.id", "users.group_id").select("groups.gid").where("users.id", "=", userId).executeTakeFirst();
  const aux = await db.selectFrom("memberships").innerJoin("groups", "groups.id", "memberships.group_id").select("groups.gid").where("memberships.user_id", "=", userId).execute();
  return [...(primary ? [primary.gid] : []), ...aux.map((r) => r.gid)];
}

function grantOf<P extends Pick<PrivilegeRow, "roles" | "web_shell">>(privileges: readonly P[], matches: (p: P) => boolean): Grant {
  const roles = new Set<string>();
  let webShell = false;
  for (const p of privileges) {
    if (!matches(p)) continue;
    for (const r of JSON.parse(p.roles) as string[]) roles.add(r);
    webShell ||= !!p.web_shell;
  }
  return { roles: [...roles], webShell };
}

/** Privileges naming any of the local `gids`. */
export async function grantOfGids(db: Tx, gids: readonly number[]): Promise<Grant> {
  if (!gids.length) return { roles: [], webShell: false };
  const set = new Set(gids);
  const privileges = await db.selectFrom("privileges").selectAll().execute();
  return grantOf(privileges, (p) => (JSON.parse(p.local_groups) as number[]).some((g) => set.has(g)));
}

/** Privileges naming any of a directory user's groups (gids, SIDs or group names). */
export async function grantOfDsGroups(db: Tx, ids: readonly (number | string)[]): Promise<Grant> {
  if (!ids.length) return { roles: [], webShell: false };
  const set = new Set(ids.map(String));
  const privileges = await db.selectFrom("privileges").selectAll().execute();
  return grantOf(privileges, (p) => (JSON.parse(p.ds_groups) as (number | string)[]).some((g) => set.has(String(g))));
}

/**
 * A local user's primary and auxiliary GIDs (rows "g") and every privilege (rows "p"), in one
 * statement: a login reads them all.
 */
const userGrantRows = prepare<[number, number]>()(2, (db) =>
  sql<{ k: "g" | "p"; gid: number | null; local_groups: string | null; roles: string | null; web_shell: number | null }>`
    select 'g' as "k", "g"."gid" as "gid", cast(null as text) as "local_groups", cast(null as text) as "roles", cast(null as integer) as "web_shell"
      from "users" as "u" inner join "groups" as "g" on "g"."id" = "u"."group_id" where "u"."id" = ${param(0)}
    union all
    select 'g', "g"."gid", cast(null as text), cast(null as text), cast(null as integer)
      from "memberships" as "m" inner join "groups" as "g" on "g"."id" = "m"."group_id" where "m"."user_id" = ${param(1)}
    union all
    select 'p', cast(null as integer), "p"."local_groups", "p"."roles", "p"."web_shell" from "privileges" as "p"`.compile(db),
);

/** The grant of a local user: the privileges naming their primary or auxiliary groups (as `grantOfGids(gidsOfUser)`). */
export async function grantOfUser(db: Tx, userId: number): Promise<Grant> {
  return grantOfUserRows(await userGrantRows.rows(db, userId, userId));
}

/** grantOfUser read at once on SQLite when the store's connection is free (Prepared.rowsNow); null: await grantOfUser. */
export function grantOfUserNow(store: Db, userId: number): Grant | null {
  const rows = userGrantRows.rowsNow(store, userId, userId);
  return rows && grantOfUserRows(rows);
}

function grantOfUserRows(rows: readonly { k: "g" | "p"; gid: number | null; local_groups: string | null; roles: string | null; web_shell: number | null }[]): Grant {
  const gids = new Set<number>();
  const privileges: LocalGrantSource[] = [];
  for (const r of rows) {
    if (r.k === "g") gids.add(Number(r.gid));
    else privileges.push({ local_groups: r.local_groups!, roles: r.roles!, web_shell: Number(r.web_shell) });
  }
  return grantOfLocalGroups(gids, privileges);
}

/** What a local user's grant is made of: each privilege's local GIDs (JSON), roles (JSON) and web shell flag. */
export type LocalGrantSource = Pick<PrivilegeRow, "local_groups" | "roles" | "web_shell">;

/** The grant of a user in the local groups `gids` (as `grantOfGids`, from privileges already read). */
export function grantOfLocalGroups(gids: ReadonlySet<number>, privileges: readonly LocalGrantSource[]): Grant {
  if (!gids.size) return { roles: [], webShell: false };
  return grantOf(privileges, (p) => (JSON.parse(p.local_groups) as number[]).some((g) => gids.has(g)));
}

/** Raw (unexpanded) roles of a local user. */
export async function rolesOfUser(db: Tx, userId: number): Promise<string[]> {
  return (await grantOfUser(db, userId)).roles;
}

/** Has the user effective access other than NONE to at least one existing system? Such users may sign in without a privilege (SPEC). */
export async function hasFleetAccess(db: Tx, userId: number): Promise<boolean> {
  return hasAnySystemAccess(db, userId);
}

// ---- entries -----------------------------------------------------------------------------------

/** A privilege entry (privilege.query): PrivilegeEntrySchema's shape. */
export type PrivilegeEntry = z.infer<typeof PrivilegeEntrySchema>;

/** Every privilege with its local groups expanded to group entries (a missing gid: `{gid, sid: null, group: null}`). */
export async function privilegeEntries(db: Tx, where: { id?: number } = {}): Promise<PrivilegeEntry[]> {
  let q = db.selectFrom("privileges").selectAll().orderBy("id");
  if (where.id !== undefined) q = q.where("id", "=", where.id);
  const privileges = await q.execute();
  const gids = [...new Set(privileges.flatMap((p) => JSON.parse(p.local_groups) as number[]))];
  const rows = gids.length ? await db.selectFrom("groups").selectAll().where("gid", "in", gids).orderBy("id").execute() : [];
  const byGid = new Map<number, GroupEntry>();
  for (const g of await buildGroupEntries(db, rows)) if (!byGid.has(g.gid)) byGid.set(g.gid, g);
  return privileges.map((p) => ({
    id: p.id,
    builtin_name: p.builtin_name,
    name: p.name,
    local_groups: (JSON.parse(p.local_groups) as number[]).map((gid) => byGid.get(gid) ?? { gid, sid: null, group: null }),
    ds_groups: (JSON.parse(p.ds_groups) as (number | string)[]).map((g) =>
      typeof g === "number" ? { gid: g, sid: null, group: null } : /^S-\d/.test(g) ? { gid: null, sid: g, group: null } : { gid: null, sid: null, group: g },
    ),
    roles: JSON.parse(p.roles) as string[],
    web_shell: !!p.web_shell,
  }));
}
