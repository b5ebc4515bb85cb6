// An in-memory index of fleet access (systems, system groups and their members, teams and their
// grants, and each user's own grants and teams), for the read paths whose aims are in
// milliseconds: fleet.system.query as a fleet user, fleet.access.explain and fleet.access.matrix.
// The decisions themselves are still those of ./effective-access.ts (`decide`, the precedence order).
//
// Never stale: the index is one version of the store, valid while the store's change stamp
// (src/store/change-feed.ts) has not moved and this process committed no change (noteLocalChange). Every write to a table access is built from (users,
// groups, memberships, privileges, fleet_access, team_members, fleet_systems,
// fleet_system_group_members, ...) moves the stamp — in this process when the statement runs, from
// another process on SQLite through data_version and on PostgreSQL through its NOTIFY — and the
// next call then builds a new version. A version is kept only if the stamp did not move while it
// was read (the QueryCache rule), and while the stamp cannot be known (PostgreSQL's listening
// connection is down) nothing is kept: every call reads the store afresh. Writes inside a
// transaction must not use it (they see their own uncommitted rows): held-access.ts and the proxy
// read the store with ./effective-access.ts.

import { sql } from "kysely";
import type BetterSqlite from "better-sqlite3";
import { freeSqliteHandle, type Db, type Tx } from "../store/db.js";
import { isPostgres, param, prepare } from "../auth/prepared.js";
import { comparePrecedence, toEntry, type AccessEntry, type FleetAccessLevel } from "./effective-access.js";

/** What the index needs of the store (src/store/db.ts Store satisfies it). */
export interface FleetStore {
  readonly db: Db;
  readonly dialect: "sqlite" | "postgres";
  readonly changes: { stamp(): string | null };
}

/** One user's part of the index: its teams and its own grants. */
export interface UserPart {
  teams: readonly number[];
  grants: readonly AccessEntry[];
}

/** Users whose parts are kept per version (a fleet user's calls, explain's recent subjects). */
const MAX_USERS = 20_000;

export class FleetIndex {
  /** bestBySystem's answers, per user part read at this version. */
  private readonly bestOfPart = new WeakMap<UserPart, Map<number, AccessEntry>>();
  /** Every system's name, by id (listings read the other columns of the systems they show). */
  readonly systems = new Map<number, string>();
  /** Group → its member systems. */
  readonly systemsOfGroup = new Map<number, number[]>();
  // The reverse maps are built when first asked for: a version read right after a change is
  // often used for one thing (an export reads neither).
  private byName: Map<string, number> | null = null;
  private groupsOf: Map<number, number[]> | null = null;

  /** System id by name. */
  get systemByName(): ReadonlyMap<string, number> {
    if (!this.byName) {
      this.byName = new Map();
      for (const [id, name] of this.systems) this.byName.set(name, id);
    }
    return this.byName;
  }

  /** System → the groups containing it, ascending. */
  get groupsOfSystem(): ReadonlyMap<number, readonly number[]> {
    if (!this.groupsOf) {
      const out = new Map<number, number[]>();
      for (const [g, members] of this.systemsOfGroup) for (const s of members) push(out, s, g);
      for (const list of out.values()) list.sort((a, b) => a - b);
      this.groupsOf = out;
    }
    return this.groupsOf;
  }
  readonly groupNames = new Map<number, string>();
  readonly teamNames = new Map<number, string>();
  /** Team → its grants. */
  readonly teamGrants = new Map<number, AccessEntry[]>();
  /** User parts read at this version (most recently used last). */
  readonly users = new Map<number, UserPart>();
  /** Per-version memo of derived data (explained users, listed systems); see remember(). */
  readonly memo = new Map<string, unknown>();
  /**
   * Data derived from this version's shared rows alone (systems, system groups and their members,
   * teams and their grants): the matrix's text pieces.
   */
  readonly derived = new Map<string, unknown>();
  /**
   * The version read before this one: its derived data may be taken over where the rows it was
   * made from read the same here (a change elsewhere — a user, a privilege, another team — moves
   * the stamp too). Its own `previous` is dropped, so at most two versions are held.
   */
  previous: FleetIndex | null = null;

  constructor(readonly stamp: string | null) {}

  /** Every system an entry reaches (a group's members; a deleted system: none). */
  systemsOf(e: Pick<AccessEntry, "target_kind" | "target_id">): readonly number[] {
    if (e.target_kind === "SYSTEM") return this.systems.has(e.target_id) ? [e.target_id] : [];
    return this.systemsOfGroup.get(e.target_id) ?? [];
  }

  /** Does entry `e` reach system `systemId`? */
  reaches(e: AccessEntry, systemId: number): boolean {
    if (e.target_kind === "SYSTEM") return e.target_id === systemId;
    return this.groupsOfSystem.get(systemId)?.includes(e.target_id) ?? false;
  }

  /** The entries that apply to (user, system), or null when the system does not exist. */
  pairEntries(part: UserPart | null, systemId: number): AccessEntry[] | null {
    if (!this.systems.has(systemId)) return null;
    const out: AccessEntry[] = [];
    if (!part) return out;
    for (const e of part.grants) if (this.reaches(e, systemId)) out.push(e);
    for (const t of part.teams) for (const e of this.teamGrants.get(t) ?? []) if (this.reaches(e, systemId)) out.push(e);
    return out;
  }

  /**
   * The deciding entry of every system the user may see (first level present, most permissive,
   * lowest id); computed once per user part (a part belongs to one version).
   */
  bestBySystem(part: UserPart): ReadonlyMap<number, AccessEntry> {
    const kept = this.bestOfPart.get(part);
    if (kept) return kept;
    const best = new Map<number, AccessEntry>();
    const offer = (e: AccessEntry) => {
      for (const s of this.systemsOf(e)) {
        const cur = best.get(s);
        if (!cur || comparePrecedence(e, cur) < 0) best.set(s, e);
      }
    };
    for (const e of part.grants) offer(e);
    for (const t of part.teams) for (const e of this.teamGrants.get(t) ?? []) offer(e);
    this.bestOfPart.set(part, best);
    return best;
  }

  /** The effective access of a user to every system it may see (READ when the session is read-only). */
  accessBySystem(part: UserPart, readonly: boolean): Map<number, FleetAccessLevel> {
    const out = new Map<number, FleetAccessLevel>();
    for (const [s, e] of this.bestBySystem(part)) out.set(s, readonly ? "READ" : e.access);
    return out;
  }
}

type GrantRow = { id: number; owner_kind: string; owner_id: number; target_kind: string; target_id: number; access: string };

/** Read one version of the shared part (everything but users' own rows). */
async function readIndex(db: Tx, stamp: string | null): Promise<FleetIndex> {
  // Only what access and names need: reading every column of every system cost more than the rest.
  const [systems, members, groups, teams, grants] = await Promise.all([
    db.selectFrom("fleet_systems").select(["id", "name"]).orderBy("id").execute(),
    db.selectFrom("fleet_system_group_members").select(["system_group_id", "system_id"]).execute(),
    db.selectFrom("fleet_system_groups").select(["id", "name"]).execute(),
    db.selectFrom("teams").select(["id", "name"]).execute(),
    db.selectFrom("fleet_access").select(["id", "owner_kind", "owner_id", "target_kind", "target_id", "access"]).where("owner_kind", "=", "TEAM").execute(),
  ]);
  const pairs = (rows: { [k: string]: unknown }[], a: string, b: string) => rows.map((r) => [r[a], r[b]] as [unknown, unknown]);
  const ix = fillIndex(new FleetIndex(stamp), pairs(systems, "id", "name"), pairs(groups, "id", "name"), pairs(teams, "id", "name"));
  for (const [g, sys] of pairs(members, "system_group_id", "system_id")) push(ix.systemsOfGroup, Number(g), Number(sys));
  for (const r of grants) push(ix.teamGrants, Number(r.owner_id), toEntry(r));
  return ix;
}

/**
 * SQLite: the index's read on the store's connection, made once per connection: its statements
 * (rows as arrays: 27,000 of them at the bench's size) in one read transaction (better-sqlite3
 * builds a transaction function's wrapper anew on each `transaction()` call).
 */
const indexReads = new WeakMap<BetterSqlite.Database, (stamp: string | null) => FleetIndex>();

/**
 * SQLite, when no transaction is open on the store's connection: read the version at once, in
 * one read transaction there (one snapshot), without the driver's lock and a promise per
 * statement; undefined: read it the awaited way (readIndex).
 */
function readIndexNow(db: Db, stamp: string | null): FleetIndex | undefined {
  const raw = freeSqliteHandle(db);
  if (!raw) return undefined;
  let read = indexReads.get(raw);
  if (!read) {
    // Rows as arrays; each group's members as one text and the teams' grants without the owner
    // kind they all share: a read right after a change (a matrix export's) is mostly these rows.
    const s = {
      systems: raw.prepare('select "id", "name" from "fleet_systems" order by "id"').raw(true),
      members: raw.prepare('select "system_group_id", group_concat("system_id") from "fleet_system_group_members" group by "system_group_id"').raw(true),
      groups: raw.prepare('select "id", "name" from "fleet_system_groups"').raw(true),
      teams: raw.prepare('select "id", "name" from "teams"').raw(true),
      grants: raw.prepare(`select "id", "owner_id", "target_kind", "target_id", "access" from "fleet_access" where "owner_kind" = 'TEAM'`).raw(true),
    };
    type Pair = [unknown, unknown];
    read = raw.transaction((at: string | null) => {
      const ix = fillIndex(new FleetIndex(at), s.systems.all() as Pair[], s.groups.all() as Pair[], s.teams.all() as Pair[]);
      for (const [g, list] of s.members.all() as [number, string][]) ix.systemsOfGroup.set(Number(g), idsIn(String(list)));
      for (const [id, owner, kind, target, access] of s.grants.all() as [number, number, string, number, string][]) {
        push(ix.teamGrants, Number(owner), toEntry({ id, owner_kind: "TEAM", owner_id: owner, target_kind: kind, target_id: target, access }));
      }
      return ix;
    });
    indexReads.set(raw, read);
  }
  return read(stamp);
}

/** Start a version from its named rows: systems, system groups and teams (id, name). */
function fillIndex(ix: FleetIndex, systems: [unknown, unknown][], groups: [unknown, unknown][], teams: [unknown, unknown][]): FleetIndex {
  indexStats.reads++;
  for (const [id, name] of systems) ix.systems.set(Number(id), name as string);
  for (const [id, name] of groups) ix.groupNames.set(Number(id), name as string);
  for (const [id, name] of teams) ix.teamNames.set(Number(id), name as string);
  return ix;
}

/** The integers of a comma-separated list ("12,15,18", as group_concat writes ids). */
function idsIn(text: string): number[] {
  const out: number[] = [];
  let v = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 44) {
      out.push(v);
      v = 0;
    } else v = v * 10 + (c - 48);
  }
  out.push(v);
  return out;
}

function push<K, V>(map: Map<K, V[]>, k: K, v: V): void {
  const list = map.get(k);
  if (list) list.push(v);
  else map.set(k, [v]);
}

const localChanges = new WeakMap<object, number>();

/**
 * A change this process committed (App.onChange, registered by ./runtime.ts). Renaming a team or a
 * system group writes tables the change stamp does not watch (they do not change access, but
 * explanations name them); other processes see such a commit through the stamp (SQLite's
 * data_version, PostgreSQL's NOTIFY of the recorded event), this one through its own event.
 */
export function noteLocalChange(store: object): void {
  localChanges.set(store, (localChanges.get(store) ?? 0) + 1);
}

/** The store's version as this process knows it (null: cannot be known now). */
function versionOf(store: FleetStore): string | null {
  const stamp = store.changes.stamp();
  return stamp === null ? null : `${stamp}/${localChanges.get(store) ?? 0}`;
}

/** How many versions were read (tests check that a change leads to a new read, and nothing else does). */
export const indexStats = { reads: 0 };

const current = new WeakMap<FleetStore, { index: FleetIndex } | { building: Promise<FleetIndex>; stamp: string }>();

/**
 * The index at the store's present version: the kept one if the stamp has not moved, else a new
 * read (shared by concurrent callers of the same version).
 */
export async function fleetIndex(store: FleetStore): Promise<FleetIndex> {
  const stamp = versionOf(store);
  if (stamp === null) return readConsistent(store, null);
  const held = current.get(store);
  if (held && "index" in held && held.index.stamp === stamp) return held.index;
  if (held && "building" in held && held.stamp === stamp) return held.building;
  const building = readConsistent(store, stamp).then((ix) => linkPrevious(store, ix));
  current.set(store, { building, stamp });
  try {
    const index = await building;
    // Kept only if nothing was written while it was read (else the next call reads again).
    const entry = current.get(store);
    if (entry && "building" in entry && entry.building === building) {
      if (versionOf(store) === stamp) current.set(store, { index });
      else current.delete(store);
    }
    return index;
  } catch (err) {
    const entry = current.get(store);
    if (entry && "building" in entry && entry.building === building) current.delete(store);
    throw err;
  }
}

/** The last version read, by store (the next one's `previous`). */
const lastRead = new WeakMap<FleetStore, FleetIndex>();

/** `ix`, linked to the version read before it. */
function linkPrevious(store: FleetStore, ix: FleetIndex): FleetIndex {
  const prev = lastRead.get(store);
  lastRead.set(store, ix);
  if (prev && prev !== ix) {
    // Only its shared rows and derived data are of use now: its per-user caches are let go.
    prev.previous = null;
    prev.users.clear();
    prev.memo.clear();
    ix.previous = prev;
  }
  return ix;
}

/**
 * One read of the shared part, in one transaction so the version is one snapshot (PostgreSQL:
 * REPEATABLE READ; SQLite: a read transaction on the one connection, at once when it is free).
 */
function readConsistent(store: FleetStore, stamp: string | null): Promise<FleetIndex> {
  const now = store.dialect === "sqlite" ? readIndexNow(store.db, stamp) : undefined;
  if (now) return Promise.resolve(now);
  const tx = store.db.transaction();
  return (store.dialect === "postgres" ? tx.setIsolationLevel("repeatable read") : tx).execute((trx) => readIndex(trx, stamp));
}

// A user's teams and own grants in one statement (kind 0: a team membership, kind 1: a grant).
const userRows = prepare<[number, number]>()(2, (db) =>
  sql<GrantRow & { kind: number }>`
    select 0 as "kind", "t"."team_id" as "id", cast(null as text) as "owner_kind", cast(null as integer) as "owner_id",
           cast(null as text) as "target_kind", cast(null as integer) as "target_id", cast(null as text) as "access"
      from "team_members" as "t" where "t"."user_id" = ${param(0)}
    union all
    select 1, "a"."id", "a"."owner_kind", "a"."owner_id", "a"."target_kind", "a"."target_id", "a"."access"
      from "fleet_access" as "a" where "a"."owner_kind" = 'USER' and "a"."owner_id" = ${param(1)}`.compile(db),
);

const NO_USER: UserPart = Object.freeze({ teams: Object.freeze([]) as readonly number[], grants: Object.freeze([]) as readonly AccessEntry[] });

/** A user's part at the index's version (null user: no account, no grants). */
export async function userPart(store: FleetStore, ix: FleetIndex, userId: number | null): Promise<UserPart> {
  if (userId === null) return NO_USER;
  const kept = ix.users.get(userId);
  if (kept) {
    ix.users.delete(userId);
    ix.users.set(userId, kept);
    return kept;
  }
  const teams: number[] = [];
  const grants: AccessEntry[] = [];
  for (const r of await userRows.rows(store.db, userId, userId)) {
    if (Number(r.kind) === 0) teams.push(Number(r.id));
    else grants.push(toEntry(r));
  }
  teams.sort((a, b) => a - b);
  const part: UserPart = { teams, grants };
  // Kept only at the version it was read at.
  if (ix.stamp !== null && versionOf(store) === ix.stamp) {
    ix.users.set(userId, part);
    if (ix.users.size > MAX_USERS) ix.users.delete(ix.users.keys().next().value as number);
  }
  return part;
}

/** Is the store still at the index's version (so what is read now may be kept with it)? */
export function isCurrent(store: FleetStore, ix: FleetIndex): boolean {
  return ix.stamp !== null && versionOf(store) === ix.stamp;
}

/**
 * Keep `value` under `key` in the index's memo if the store is still at the index's version (what
 * was read for it may be newer otherwise); at most MAX_USERS entries, the oldest dropped.
 */
export function remember(store: FleetStore, ix: FleetIndex, key: string, value: unknown): void {
  if (!isCurrent(store, ix)) return;
  ix.memo.set(key, value);
  if (ix.memo.size > MAX_USERS) ix.memo.delete(ix.memo.keys().next().value as string);
}

/**
 * `(select …)` of the ids in a JSON array parameter: one statement prepared once for any number of
 * ids (building an `in (…)` of hundreds of parameters per call cost more than running it).
 */
export function idsOf(db: Tx, ids: unknown) {
  return isPostgres(db) ? sql`(select cast("v" as bigint) from json_array_elements_text(cast(${ids} as json)) as "v")` : sql`(select "value" from json_each(${ids}))`;
}

const membersOf = prepare<[string]>()(1, (db) => sql<{ team_id: number; user_id: number }>`select "team_id", "user_id" from "team_members" where "user_id" in ${idsOf(db, param(0))}`.compile(db));
const grantsOf = prepare<[string]>()(1, (db) =>
  sql<GrantRow>`select "id", "owner_kind", "owner_id", "target_kind", "target_id", "access" from "fleet_access" where "owner_kind" = 'USER' and "owner_id" in ${idsOf(db, param(0))}`.compile(db),
);

/** Read the parts of many users at once (the matrix; null: every user), not kept. */
export async function userParts(db: Tx, users: readonly number[] | null): Promise<Map<number, UserPart>> {
  const out = new Map<number, { teams: number[]; grants: AccessEntry[] }>();
  const get = (u: number) => {
    let p = out.get(u);
    if (!p) out.set(u, (p = { teams: [], grants: [] }));
    return p;
  };
  const ids = users === null ? null : JSON.stringify(users);
  // SQLite with its connection free: both read at once (rowsNow; `db` a transaction: null, awaited).
  const now = ids === null ? null : membersOf.rowsNow(db as Db, ids);
  const nowGrants = now && ids !== null ? grantsOf.rowsNow(db as Db, ids) : null;
  const [members, grants] = await Promise.all([
    now ?? (ids === null ? db.selectFrom("team_members").select(["team_id", "user_id"]).execute() : membersOf.rows(db, ids)),
    nowGrants ??
      (ids === null ? db.selectFrom("fleet_access").select(["id", "owner_kind", "owner_id", "target_kind", "target_id", "access"]).where("owner_kind", "=", "USER").execute() : grantsOf.rows(db, ids)),
  ]);
  for (const m of members) get(Number(m.user_id)).teams.push(Number(m.team_id));
  for (const g of grants) get(Number(g.owner_id)).grants.push(toEntry(g));
  return out;
}
