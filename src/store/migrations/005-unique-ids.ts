// One account per uid, gid, home directory and SMB name, enforced by the store itself (issue 9
// point 9; docs/security/concurrency.md): before these indexes, concurrent creates on PostgreSQL
// handed the same automatic uid to hundreds of users, every call answering success.
//
// - users.uid and groups.gid: unique (replacing the plain lookup indexes).
// - users.home: unique among local users, `/var/empty` excepted (built-in system accounts share
//   homes such as /nonexistent, as on any Linux host). Homes are compared normalised: stored
//   local homes are normalised here, and validateHome stores them so.
// - SMB names: lower(username) among SMB users, lower(name) among SMB groups (Samba's names are
//   case-insensitive).
//
// A store that already holds duplicates cannot get these indexes: the migration lists every
// duplicate (value and accounts) and fails, so the server refuses to start until they are fixed.

import { sql } from "kysely";
import { posix } from "node:path";
import type { Dialect, Migration, MigrationDb } from "./migration.js";

const SHARED_HOME = "/var/empty";

export type DuplicateKind = "uid" | "gid" | "home" | "smb_name" | "group_smb_name";

export interface Duplicate {
  kind: DuplicateKind;
  value: string | number;
  /** The accounts that share the value, by store id. */
  holders: { id: number; name: string }[];
}

function normalizeHome(home: string): string {
  const n = posix.normalize(home);
  return n.length > 1 ? n.replace(/\/+$/, "") : n;
}

function grouped(kind: DuplicateKind, rows: { id: number; name: string; value: string | number }[]): Duplicate[] {
  const by = new Map<string | number, Duplicate>();
  for (const r of rows) {
    let d = by.get(r.value);
    if (!d) by.set(r.value, (d = { kind, value: r.value, holders: [] }));
    d.holders.push({ id: Number(r.id), name: r.name });
  }
  return [...by.values()].filter((d) => d.holders.length > 1);
}

/** Every value that more than one account holds, per rule this migration enforces. */
export async function findDuplicates(db: MigrationDb): Promise<Duplicate[]> {
  const q = async (text: string) => (await sql.raw<{ id: number; name: string; value: string | number }>(text).execute(db)).rows;
  const uids = await q(`select id, username as name, uid as value from users where uid in (select uid from users group by uid having count(*) > 1) order by uid, id`);
  const gids = await q(`select id, name, gid as value from groups where gid in (select gid from groups group by gid having count(*) > 1) order by gid, id`);
  const smbUsers = await q(
    `select id, username as name, lower(username) as value from users where smb = 1 and lower(username) in ` +
      `(select lower(username) from users where smb = 1 group by lower(username) having count(*) > 1) order by lower(username), id`,
  );
  const smbGroups = await q(
    `select id, name, lower(name) as value from groups where smb = 1 and lower(name) in ` +
      `(select lower(name) from groups where smb = 1 group by lower(name) having count(*) > 1) order by lower(name), id`,
  );
  const homes = await homeDuplicates(db);
  return [
    ...grouped(
      "uid",
      uids.map((r) => ({ ...r, value: Number(r.value) })),
    ),
    ...grouped(
      "gid",
      gids.map((r) => ({ ...r, value: Number(r.value) })),
    ),
    ...grouped("home", homes),
    ...grouped("smb_name", smbUsers),
    ...grouped("group_smb_name", smbGroups),
  ];
}

/** Local users' homes that are not stored normalised (validateHome stores them so: few or none). */
async function unnormalisedHomes(db: MigrationDb): Promise<{ id: number; name: string; value: string }[]> {
  const odd = ["%/", "%//%", "%/./%", "%/../%", "%/.", "%/.."].map((p) => `home like '${p}'`).join(" or ");
  return (await sql.raw<{ id: number; name: string; value: string }>(`select id, username as name, home as value from users where builtin = 0 and (${odd})`).execute(db)).rows;
}

/**
 * Local homes held more than once, compared normalised. Without reading every user (a store may
 * hold a million): exact duplicates come from SQL; each home stored unnormalised is then
 * compared, normalised, with the homes equal to that form.
 */
async function homeDuplicates(db: MigrationDb): Promise<{ id: number; name: string; value: string }[]> {
  const local = `builtin = 0 and home <> '${SHARED_HOME}'`;
  const exact = (
    await sql
      .raw<{ id: number; name: string; value: string }>(
        `select id, username as name, home as value from users where ${local} and home in (select home from users where ${local} group by home having count(*) > 1)`,
      )
      .execute(db)
  ).rows;
  const odd = (await unnormalisedHomes(db)).map((r) => ({ ...r, value: normalizeHome(r.value) }));
  const rows = new Map<number, { id: number; name: string; value: string }>();
  for (const r of [...exact, ...odd]) rows.set(Number(r.id), { ...r, id: Number(r.id) });
  for (const n of new Set(odd.map((r) => r.value))) {
    const same = await sql<{ id: number; name: string }>`select id, username as name from users where builtin = 0 and home = ${n}`.execute(db);
    for (const r of same.rows) rows.set(Number(r.id), { id: Number(r.id), name: r.name, value: n });
  }
  return [...rows.values()].filter((r) => r.value !== SHARED_HOME).sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : a.id - b.id));
}

const LABEL: Record<DuplicateKind, (v: string | number, n: number) => string> = {
  uid: (v, n) => `uid ${v} is held by ${n} users`,
  gid: (v, n) => `gid ${v} is held by ${n} groups`,
  home: (v, n) => `home directory ${v} is held by ${n} users`,
  smb_name: (v, n) => `SMB user name "${v}" (names equal ignoring case) is held by ${n} SMB users`,
  group_smb_name: (v, n) => `SMB group name "${v}" (names equal ignoring case) is held by ${n} SMB groups`,
};

/** The message a server that cannot migrate prints: what is duplicated, and by which accounts. */
export function duplicateReport(dups: Duplicate[]): string {
  const lines = dups.map((d) => `  - ${LABEL[d.kind](d.value, d.holders.length)}: ${d.holders.map((h) => `${h.name} (id ${h.id})`).join(", ")}`);
  return [
    `The store holds ${dups.length} duplicate account identifier${dups.length === 1 ? "" : "s"}; migration 005 (unique-ids) cannot make uids, gids, ` +
      "home directories and SMB names unique until they are fixed. Give each of these accounts its own value (or delete the extra " +
      "ones), then start Gatehouse again:",
    ...lines,
  ].join("\n");
}

export class DuplicateAccountsError extends Error {
  constructor(readonly duplicates: Duplicate[]) {
    super(duplicateReport(duplicates));
    this.name = "DuplicateAccountsError";
  }
}

export const m005UniqueIds: Migration = {
  version: 5,
  name: "unique-ids",
  async up(db: MigrationDb, dialect: Dialect) {
    const dups = await findDuplicates(db);
    if (dups.length) throw new DuplicateAccountsError(dups);
    // Store local homes the way they are compared (none differ unless written by hand).
    for (const r of await unnormalisedHomes(db)) {
      const n = normalizeHome(r.value);
      if (n !== r.value) await sql`update users set home = ${n} where id = ${r.id}`.execute(db);
    }
    // PostgreSQL: the home index in byte order, so it also serves the nested-home range scan
    // (src/accounts/uniqueness.ts claimHome) whatever the database's collation.
    const homeCol = dialect === "postgres" ? `home collate "C"` : "home";
    for (const stmt of [
      `create unique index users_uid_unique on users (uid)`,
      `drop index users_uid`,
      `create unique index groups_gid_unique on groups (gid)`,
      `drop index groups_gid`,
      `create unique index users_home_unique on users (${homeCol}) where builtin = 0 and home <> '${SHARED_HOME}'`,
      `create unique index users_smb_name_unique on users (lower(username)) where smb = 1`,
      `create unique index groups_smb_name_unique on groups (lower(name)) where smb = 1`,
    ]) {
      await sql.raw(stmt).execute(db);
    }
  },
};
