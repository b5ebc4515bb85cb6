// The fleet fields of users (seed 002/003, issue 11 point 4): `teams` (ids), `systems`
// ([{system, access}], the user's own grants) and `system_groups` ([{system_group, access}]) — on
// user.create / user.update and in the user entry.
//
// Reading: the user.query SQL aggregates them per row (one correlated subquery, FLEET_JSON_SQL),
// other paths batch them for a page (loadUserFleet). Writing: inside the user write's transaction,
// with the held-access check (a FLEET_WRITE caller passes on only what it holds); the dispatcher
// has already refused the fields to callers without FLEET_WRITE (the method's fieldRoles).

import type { Dialect, Tx } from "../store/db.js";
import { ValidationErrors } from "../server/errors.js";
import type { Session } from "../auth/session.js";
import type { UserFleetInput } from "./access-schemas.js";
import type { FleetAccessLevel } from "./effective-access.js";
import { assertHoldsAccess } from "./held-access.js";
import { allGrantTouches, checkGrantLists, replaceGrants } from "./grants.js";

export interface UserFleetFields {
  teams: number[];
  systems: { system: number; access: FleetAccessLevel }[];
  system_groups: { system_group: number; access: FleetAccessLevel }[];
}

export const NO_FLEET_FIELDS: Readonly<UserFleetFields> = Object.freeze({ teams: [], systems: [], system_groups: [] }) as UserFleetFields;

const level = (a: unknown): FleetAccessLevel => (a === "READ_WRITE" ? "READ_WRITE" : "READ");

/**
 * SQL of a correlated subquery (in a statement selecting from "users") giving the row's fleet
 * fields as JSON text `[[kind, id, access], …]`, kind T (team), S (system), G (system group).
 * Served by the indexes team_members_user and fleet_access_owner_target (migration 008).
 */
export function fleetJsonSql(dialect: Dialect): string {
  const rows =
    `SELECT 'T' AS "k", "tm"."team_id" AS "i", '' AS "a" FROM "team_members" AS "tm" WHERE "tm"."user_id" = "users"."id" ` +
    `UNION ALL SELECT CASE WHEN "fa"."target_kind" = 'SYSTEM' THEN 'S' ELSE 'G' END, "fa"."target_id", "fa"."access" ` +
    `FROM "fleet_access" AS "fa" WHERE "fa"."owner_kind" = 'USER' AND "fa"."owner_id" = "users"."id"`;
  return dialect === "postgres"
    ? `(SELECT COALESCE(json_agg(json_build_array("x"."k", "x"."i", "x"."a") ORDER BY "x"."k", "x"."i"), '[]')::text FROM (${rows}) AS "x")`
    : `(SELECT json_group_array(json_array("k", "i", "a")) FROM (SELECT * FROM (${rows}) ORDER BY "k", "i"))`;
}

/** The fields from fleetJsonSql's text. */
export function parseFleetJson(text: string | null | undefined): UserFleetFields {
  if (!text || text === "[]") return { teams: [], systems: [], system_groups: [] };
  const out: UserFleetFields = { teams: [], systems: [], system_groups: [] };
  for (const t of JSON.parse(text) as [string, number, string][]) {
    const id = Number(t[1]);
    if (t[0] === "T") out.teams.push(id);
    else if (t[0] === "S") out.systems.push({ system: id, access: level(t[2]) });
    else out.system_groups.push({ system_group: id, access: level(t[2]) });
  }
  return out;
}

/** The fleet fields of a page of users: two batched queries. */
export async function loadUserFleet(db: Tx, ids: readonly number[]): Promise<Map<number, UserFleetFields>> {
  const out = new Map<number, UserFleetFields>();
  if (!ids.length) return out;
  const of = (id: number) => {
    let f = out.get(id);
    if (!f) out.set(id, (f = { teams: [], systems: [], system_groups: [] }));
    return f;
  };
  const [teams, grants] = await Promise.all([
    db
      .selectFrom("team_members")
      .select(["user_id", "team_id"])
      .where("user_id", "in", [...ids])
      .orderBy("team_id")
      .execute(),
    db
      .selectFrom("fleet_access")
      .select(["owner_id", "target_kind", "target_id", "access"])
      .where("owner_kind", "=", "USER")
      .where("owner_id", "in", [...ids])
      .orderBy("target_id")
      .execute(),
  ]);
  for (const t of teams) of(t.user_id).teams.push(t.team_id);
  for (const g of grants) {
    if (g.target_kind === "SYSTEM") of(g.owner_id).systems.push({ system: g.target_id, access: level(g.access) });
    else of(g.owner_id).system_groups.push({ system_group: g.target_id, access: level(g.access) });
  }
  return out;
}

/** The fleet fields present in a user.create / user.update input. */
export function fleetFieldsOf(input: UserFleetInput): UserFleetInput {
  const out: UserFleetInput = {};
  if (input.teams !== undefined) out.teams = input.teams;
  if (input.systems !== undefined) out.systems = input.systems;
  if (input.system_groups !== undefined) out.system_groups = input.system_groups;
  return out;
}

async function checkTeams(db: Tx, v: ValidationErrors, attr: string, teams: readonly number[]): Promise<void> {
  if (new Set(teams).size !== teams.length) v.add(attr, "A team is listed twice.", "fleet.duplicate_entry");
  const unique = [...new Set(teams)];
  if (!unique.length) return;
  const found = new Set((await db.selectFrom("teams").select("id").where("id", "in", unique).execute()).map((r) => r.id));
  const missing = unique.filter((t) => !found.has(t));
  if (missing.length) v.add(attr, `Following teams do not exist: ${missing.join(", ")}`, "team.not_found");
}

/** Validate the fleet fields of an input (existence, duplicates); throws ValidationErrors. */
export async function validateUserFleet(db: Tx, schema: string, input: UserFleetInput): Promise<void> {
  const v = new ValidationErrors();
  if (input.teams) await checkTeams(db, v, `${schema}.teams`, input.teams);
  await checkGrantLists(db, v, schema, input);
  v.check();
}

/**
 * Write the fleet fields given (absent ones are left as they are) inside the user write's
 * transaction, then check the caller holds every access the change passes on or takes away.
 * Returns the change in words (empty: nothing changed).
 */
export async function writeUserFleet(trx: Tx, session: Session | null, userId: number, input: UserFleetInput, schema: string): Promise<string[]> {
  if (input.teams === undefined && input.systems === undefined && input.system_groups === undefined) return [];
  await validateUserFleet(trx, schema, input);
  const grants = await replaceGrants(trx, "USER", userId, input);
  const touches = [...grants.touches];
  const words = [...grants.words];
  if (input.teams) {
    const before = new Set((await trx.selectFrom("team_members").select("team_id").where("user_id", "=", userId).execute()).map((r) => r.team_id));
    const after = new Set(input.teams);
    const added = [...after].filter((t) => !before.has(t));
    const removed = [...before].filter((t) => !after.has(t));
    if (removed.length) await trx.deleteFrom("team_members").where("user_id", "=", userId).where("team_id", "in", removed).execute();
    if (added.length)
      await trx
        .insertInto("team_members")
        .values(added.map((team_id) => ({ team_id, user_id: userId, origin: "LOCAL" })))
        .execute();
    touches.push(...(await allGrantTouches(trx, "TEAM", [...added, ...removed])));
    if (added.length) words.push(`+teams ${added.join(", ")}`);
    if (removed.length) words.push(`-teams ${removed.join(", ")}`);
  }
  await assertHoldsAccess(trx, session, touches, schema);
  return words;
}
