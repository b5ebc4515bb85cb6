// Effective access of a user to a fleet system (issue 11 point 5, SPEC "Fleet").
//
// Administrators (sessions holding FULL_ADMIN) have READ_WRITE on every existing system. Anyone
// else: the FIRST level that has any entry for the system decides, in this order:
//   1 USER_SYSTEM        the user's own entry for the system
//   2 USER_SYSTEM_GROUP  the user's entries for system groups containing it
//   3 TEAM_SYSTEM        entries of the user's teams for the system
//   4 TEAM_SYSTEM_GROUP  entries of the user's teams for system groups containing it
// Within the deciding level the most permissive entry wins (a tie: the lowest entry id). No entry:
// NONE, and the system is invisible. A session that became read-only is capped at READ.
//
// Rights are computed when checked: every call reads the entries from the store (one statement,
// prepared once per store), so a change of team, grant or membership committed by any process
// takes effect on the very next call. Nothing here is cached: these statements serve checks made
// inside transactions (./held-access.ts) and the proxy; listings, explanations and the matrix
// answer from ./access-index.ts, one version of the store, with the same precedence (`decide`).

import { sql } from "kysely";
import type { Tx } from "../store/db.js";
import { param, prepare } from "../auth/prepared.js";

export type FleetAccessLevel = "READ" | "READ_WRITE";
export type EffectiveLevel = "NONE" | FleetAccessLevel;
export type OwnerKind = "USER" | "TEAM";
export type TargetKind = "SYSTEM" | "SYSTEM_GROUP";

/** The precedence levels, first deciding. */
export const ACCESS_LEVELS = ["USER_SYSTEM", "USER_SYSTEM_GROUP", "TEAM_SYSTEM", "TEAM_SYSTEM_GROUP"] as const;
export type AccessLevelName = (typeof ACCESS_LEVELS)[number];

/** One fleet_access row as it bears on a (user, system) pair. */
export interface AccessEntry {
  id: number;
  owner_kind: OwnerKind;
  owner_id: number;
  target_kind: TargetKind;
  target_id: number;
  access: FleetAccessLevel;
}

/** Who asks: a user (null: no account, e.g. the server itself) and whether the session is an administrator. */
export interface FleetSubject {
  userId: number | null;
  /** The session holds FULL_ADMIN (or is the server itself): READ_WRITE everywhere. */
  admin: boolean;
  /** The session became read-only (privilege.become_readonly): capped at READ. */
  readonly?: boolean;
}

/** The decision for one (user, system) pair. */
export interface AccessDecision {
  access: EffectiveLevel;
  /** "ADMIN" for administrators; null when no entry applies. */
  level: AccessLevelName | "ADMIN" | null;
  /** The entry that decided (null for administrators and for NONE). */
  decided_by: AccessEntry | null;
  /** Every other applicable entry, in precedence order (level, then most permissive, then id). */
  shadowed: AccessEntry[];
  /** The read-only cap lowered READ_WRITE to READ. */
  capped: boolean;
}

/** The precedence level of an entry. */
export function levelOf(e: Pick<AccessEntry, "owner_kind" | "target_kind">): AccessLevelName {
  if (e.owner_kind === "USER") return e.target_kind === "SYSTEM" ? "USER_SYSTEM" : "USER_SYSTEM_GROUP";
  return e.target_kind === "SYSTEM" ? "TEAM_SYSTEM" : "TEAM_SYSTEM_GROUP";
}

const RANK: Record<AccessLevelName, number> = { USER_SYSTEM: 0, USER_SYSTEM_GROUP: 1, TEAM_SYSTEM: 2, TEAM_SYSTEM_GROUP: 3 };

/** Precedence order: level first, then the most permissive, then the lowest id. */
export function comparePrecedence(a: AccessEntry, b: AccessEntry): number {
  return RANK[levelOf(a)] - RANK[levelOf(b)] || (a.access === b.access ? 0 : a.access === "READ_WRITE" ? -1 : 1) || a.id - b.id;
}

/**
 * The decision from the entries that apply to one (user, system) pair (of an existing system).
 * Pure: the property test checks it, and the SQL that gathers the entries, against a model.
 */
export function decide(subject: Pick<FleetSubject, "admin" | "readonly">, entries: readonly AccessEntry[]): AccessDecision {
  const ordered = [...entries].sort(comparePrecedence);
  if (subject.admin) return { access: "READ_WRITE", level: "ADMIN", decided_by: null, shadowed: ordered, capped: false };
  const first = ordered[0];
  if (!first) return { access: "NONE", level: null, decided_by: null, shadowed: [], capped: false };
  const capped = !!subject.readonly && first.access === "READ_WRITE";
  return { access: capped ? "READ" : first.access, level: levelOf(first), decided_by: first, shadowed: ordered.slice(1), capped };
}

type EntryRow = { lvl: number; id: number | null; owner_kind: string | null; owner_id: number | null; target_kind: string | null; target_id: number | null; access: string | null };

// Row lvl 0 says the system exists; lvl 1-4 are the entries of each level. Indexes (migration 008):
// fleet_access (owner_kind, owner_id, target_kind, target_id), team_members (user_id),
// fleet_system_group_members (system_id). The team legs start from the user's memberships
// (CROSS JOIN fixes SQLite's join order; PostgreSQL plans it like an inner join): started from
// fleet_access, SQLite walked every team grant of the store.
const pairEntries = prepare<[number, number, number, number, number, number, number, number, number]>()(9, (db) =>
  sql<EntryRow>`
    select 0 as "lvl", cast(null as integer) as "id", cast(null as text) as "owner_kind", cast(null as integer) as "owner_id",
           cast(null as text) as "target_kind", cast(null as integer) as "target_id", cast(null as text) as "access"
      from "fleet_systems" as "s" where "s"."id" = ${param(0)}
    union all
    select 1, "a"."id", "a"."owner_kind", "a"."owner_id", "a"."target_kind", "a"."target_id", "a"."access"
      from "fleet_access" as "a"
     where "a"."owner_kind" = 'USER' and "a"."owner_id" = ${param(1)} and "a"."target_kind" = 'SYSTEM' and "a"."target_id" = ${param(2)}
    union all
    select 2, "a"."id", "a"."owner_kind", "a"."owner_id", "a"."target_kind", "a"."target_id", "a"."access"
      from "fleet_access" as "a" cross join "fleet_system_group_members" as "m"
     where "a"."owner_kind" = 'USER' and "a"."owner_id" = ${param(3)} and "a"."target_kind" = 'SYSTEM_GROUP' and "m"."system_group_id" = "a"."target_id" and "m"."system_id" = ${param(4)}
    union all
    select 3, "a"."id", "a"."owner_kind", "a"."owner_id", "a"."target_kind", "a"."target_id", "a"."access"
      from "team_members" as "t" cross join "fleet_access" as "a"
     where "t"."user_id" = ${param(5)} and "a"."owner_kind" = 'TEAM' and "a"."owner_id" = "t"."team_id" and "a"."target_kind" = 'SYSTEM' and "a"."target_id" = ${param(6)}
    union all
    select 4, "a"."id", "a"."owner_kind", "a"."owner_id", "a"."target_kind", "a"."target_id", "a"."access"
      from "team_members" as "t" cross join "fleet_access" as "a" cross join "fleet_system_group_members" as "m"
     where "t"."user_id" = ${param(7)} and "a"."owner_kind" = 'TEAM' and "a"."owner_id" = "t"."team_id" and "a"."target_kind" = 'SYSTEM_GROUP'
       and "m"."system_group_id" = "a"."target_id" and "m"."system_id" = ${param(8)}`.compile(db),
);

/** A grant row as read (ids may come back as strings or bigints) → the entry precedence works on. */
export function toEntry(r: Pick<EntryRow, "id" | "owner_kind" | "owner_id" | "target_kind" | "target_id" | "access">): AccessEntry {
  return {
    id: Number(r.id),
    owner_kind: r.owner_kind as OwnerKind,
    owner_id: Number(r.owner_id),
    target_kind: r.target_kind as TargetKind,
    target_id: Number(r.target_id),
    access: r.access === "READ_WRITE" ? "READ_WRITE" : "READ",
  };
}

/** Are the two grants the same row, field for field? */
export function sameEntry(a: AccessEntry, b: AccessEntry): boolean {
  return a.id === b.id && a.owner_kind === b.owner_kind && a.owner_id === b.owner_id && a.target_kind === b.target_kind && a.target_id === b.target_id && a.access === b.access;
}

/**
 * The entries that apply to (user, system), or null when the system does not exist. A user id of
 * null (no account) has no entries.
 */
export async function pairAccessEntries(db: Tx, userId: number | null, systemId: number): Promise<AccessEntry[] | null> {
  const u = userId ?? -1;
  const rows = await pairEntries.rows(db, systemId, u, systemId, u, systemId, u, systemId, u, systemId);
  let exists = false;
  const entries: AccessEntry[] = [];
  for (const r of rows) {
    if (Number(r.lvl) === 0) exists = true;
    else entries.push(toEntry(r));
  }
  return exists ? entries : null;
}

const NO_SYSTEM: AccessDecision = Object.freeze({ access: "NONE", level: null, decided_by: null, shadowed: [], capped: false }) as AccessDecision;

/** The effective access of `subject` to system `systemId` (NONE when the system does not exist). */
export async function effectiveAccess(db: Tx, subject: FleetSubject, systemId: number): Promise<AccessDecision> {
  const entries = await pairAccessEntries(db, subject.admin ? null : subject.userId, systemId);
  if (entries === null) return { ...NO_SYSTEM, shadowed: [] };
  return decide(subject, entries);
}

// Every entry of a user with the existing system it applies to (group entries expanded to their
// member systems).
const userEntries = prepare<[number, number, number, number]>()(4, (db) =>
  sql<EntryRow & { system_id: number }>`
    select 1 as "lvl", "a"."id", "a"."owner_kind", "a"."owner_id", "a"."target_kind", "a"."target_id", "a"."access", "s"."id" as "system_id"
      from "fleet_access" as "a" inner join "fleet_systems" as "s" on "s"."id" = "a"."target_id"
     where "a"."owner_kind" = 'USER' and "a"."owner_id" = ${param(0)} and "a"."target_kind" = 'SYSTEM'
    union all
    select 2, "a"."id", "a"."owner_kind", "a"."owner_id", "a"."target_kind", "a"."target_id", "a"."access", "m"."system_id"
      from "fleet_access" as "a" inner join "fleet_system_group_members" as "m" on "m"."system_group_id" = "a"."target_id"
     where "a"."owner_kind" = 'USER' and "a"."owner_id" = ${param(1)} and "a"."target_kind" = 'SYSTEM_GROUP'
    union all
    select 3, "a"."id", "a"."owner_kind", "a"."owner_id", "a"."target_kind", "a"."target_id", "a"."access", "s"."id"
      from "team_members" as "t" cross join "fleet_access" as "a" cross join "fleet_systems" as "s"
     where "t"."user_id" = ${param(2)} and "a"."owner_kind" = 'TEAM' and "a"."owner_id" = "t"."team_id" and "a"."target_kind" = 'SYSTEM' and "s"."id" = "a"."target_id"
    union all
    select 4, "a"."id", "a"."owner_kind", "a"."owner_id", "a"."target_kind", "a"."target_id", "a"."access", "m"."system_id"
      from "team_members" as "t" cross join "fleet_access" as "a" cross join "fleet_system_group_members" as "m"
     where "t"."user_id" = ${param(3)} and "a"."owner_kind" = 'TEAM' and "a"."owner_id" = "t"."team_id" and "a"."target_kind" = 'SYSTEM_GROUP' and "m"."system_group_id" = "a"."target_id"`.compile(db),
);

/** The best entry of each level wins only at the first level present: fold one entry into the running best. */
function better(current: AccessEntry | undefined, e: AccessEntry): boolean {
  return !current || comparePrecedence(e, current) < 0;
}

/**
 * The effective access of `subject` to every system it may see (access != NONE), by system id.
 * Administrators: every existing system, READ_WRITE.
 */
export async function accessBySystem(db: Tx, subject: FleetSubject): Promise<Map<number, FleetAccessLevel>> {
  const out = new Map<number, FleetAccessLevel>();
  if (subject.admin) {
    for (const r of await db.selectFrom("fleet_systems").select("id").execute()) out.set(r.id, "READ_WRITE");
    return out;
  }
  if (subject.userId === null) return out;
  const u = subject.userId;
  const best = new Map<number, AccessEntry>();
  for (const r of await userEntries.rows(db, u, u, u, u)) {
    const e = toEntry(r);
    const sys = Number(r.system_id);
    if (better(best.get(sys), e)) best.set(sys, e);
  }
  for (const [sys, e] of best) out.set(sys, subject.readonly ? "READ" : e.access);
  return out;
}

/** Ids of the systems `subject` may see (effective access != NONE), ascending. */
export async function visibleSystemIds(db: Tx, subject: FleetSubject): Promise<number[]> {
  return [...(await accessBySystem(db, subject)).keys()].sort((a, b) => a - b);
}

// Any entry of the user that reaches an existing system: effective access is then not NONE on it
// (every entry is READ or READ_WRITE, and the first level with an entry decides).
const anyAccess = prepare<[number, number, number, number]>()(4, (db) =>
  sql<{ one: number }>`
    select 1 as "one" from "fleet_access" as "a" inner join "fleet_systems" as "s" on "s"."id" = "a"."target_id"
     where "a"."owner_kind" = 'USER' and "a"."owner_id" = ${param(0)} and "a"."target_kind" = 'SYSTEM'
    union all
    select 1 from "fleet_access" as "a" inner join "fleet_system_group_members" as "m" on "m"."system_group_id" = "a"."target_id"
     where "a"."owner_kind" = 'USER' and "a"."owner_id" = ${param(1)} and "a"."target_kind" = 'SYSTEM_GROUP'
    union all
    select 1 from "team_members" as "t" cross join "fleet_access" as "a" cross join "fleet_systems" as "s"
     where "t"."user_id" = ${param(2)} and "a"."owner_kind" = 'TEAM' and "a"."owner_id" = "t"."team_id" and "a"."target_kind" = 'SYSTEM' and "s"."id" = "a"."target_id"
    union all
    select 1 from "team_members" as "t" cross join "fleet_access" as "a" cross join "fleet_system_group_members" as "m"
     where "t"."user_id" = ${param(3)} and "a"."owner_kind" = 'TEAM' and "a"."owner_id" = "t"."team_id" and "a"."target_kind" = 'SYSTEM_GROUP' and "m"."system_group_id" = "a"."target_id"
    limit 1`.compile(db),
);

/** Has the user effective access other than NONE to at least one existing system? (Sign-in without privileges.) */
export async function hasAnySystemAccess(db: Tx, userId: number): Promise<boolean> {
  return !!(await anyAccess.first(db, userId, userId, userId, userId));
}

/** What a session says about who asks (src/auth/session.ts Session satisfies it). */
export interface FleetSessionLike {
  userId: number | null;
  internal: boolean;
  fullAdmin: boolean;
  roles: ReadonlySet<string>;
  readonly?: boolean;
}

/**
 * The fleet subject of a session: administrators are sessions holding FULL_ADMIN (also under STIG,
 * where it is no wildcard) or the server itself. A session limited to an API key's roles holds
 * FULL_ADMIN only when the key grants it.
 */
export function subjectOfSession(s: FleetSessionLike): FleetSubject {
  return { userId: s.userId, admin: s.internal || s.fullAdmin || s.roles.has("FULL_ADMIN"), readonly: !!s.readonly };
}
