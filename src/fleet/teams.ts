// Teams (team.*): {id, name, members, systems: [{system, access}], system_groups: [{system_group,
// access}]}. A team's grants reach each member at levels 3 and 4 of the precedence rule. Adding
// or removing a member passes on or takes away every grant of the team; changing a grant changes
// it for every member: the caller must hold what is involved (./held-access.ts). Deleting a team
// removes its grants and memberships. Every grant change is named in the audit label.

import type { Tx } from "../store/db.js";
import { ValidationErrors, instanceNotFound } from "../server/errors.js";
import { queryRows } from "../store/query-rows.js";
import type { FleetAccessContext } from "./context.js";
import type { TeamCreate, TeamEntry, TeamUpdate } from "./access-schemas.js";
import { assertHoldsAccess } from "./held-access.js";
import { allGrantTouches, checkGrantLists, grantsOfOwners, replaceGrants } from "./grants.js";
import { changeOf, type ChangeEvent } from "../store/change-event.js";
import { recordChange } from "../store/changes.js";

/** Every team (or the one with `id`) with its members and grants, ordered by id. */
export async function teamEntries(db: Tx, id?: number): Promise<TeamEntry[]> {
  let q = db.selectFrom("teams").select(["id", "name"]).orderBy("id");
  if (id !== undefined) q = q.where("id", "=", id);
  const teams = await q.execute();
  if (!teams.length) return [];
  let m = db.selectFrom("team_members").select(["team_id", "user_id"]).orderBy("user_id");
  if (id !== undefined) m = m.where("team_id", "=", id);
  const members = new Map<number, number[]>();
  for (const r of await m.execute()) {
    const list = members.get(r.team_id);
    if (list) list.push(r.user_id);
    else members.set(r.team_id, [r.user_id]);
  }
  const grants = await grantsOfOwners(db, "TEAM", id === undefined ? null : [id]);
  return teams.map((t) => ({ id: t.id, name: t.name, members: members.get(t.id) ?? [], systems: grants.get(t.id)?.systems ?? [], system_groups: grants.get(t.id)?.system_groups ?? [] }));
}

export async function queryTeams(ctx: FleetAccessContext, filters: unknown, options: unknown): Promise<unknown> {
  return queryRows(await teamEntries(ctx.app.store.db), filters, options);
}

export async function getTeam(ctx: FleetAccessContext, id: number): Promise<TeamEntry> {
  const [entry] = await teamEntries(ctx.app.store.db, id);
  if (!entry) instanceNotFound("Team", id, "team.not_found");
  return entry;
}

async function checkName(db: Tx, v: ValidationErrors, attr: string, name: string, selfId: number | null): Promise<void> {
  const taken = await db.selectFrom("teams").select("id").where("name", "=", name).executeTakeFirst();
  if (taken && taken.id !== selfId) v.add(attr, `A team named "${name}" already exists.`, "team.name_taken");
}

async function checkMembers(db: Tx, v: ValidationErrors, attr: string, members: readonly number[]): Promise<void> {
  if (new Set(members).size !== members.length) v.add(attr, "A user is listed twice.", "fleet.duplicate_entry");
  const unique = [...new Set(members)];
  if (!unique.length) return;
  const found = new Set((await db.selectFrom("users").select("id").where("id", "in", unique).execute()).map((r) => r.id));
  const missing = unique.filter((u) => !found.has(u));
  if (missing.length) v.add(attr, `Following users do not exist: ${missing.join(", ")}`, "team.member_not_found");
}

async function validate(db: Tx, schema: string, input: TeamUpdate, selfId: number | null, nameChanged: boolean): Promise<void> {
  const v = new ValidationErrors();
  if (input.name !== undefined && nameChanged) await checkName(db, v, `${schema}.name`, input.name, selfId);
  if (input.members) await checkMembers(db, v, `${schema}.members`, input.members);
  await checkGrantLists(db, v, schema, input);
  v.check();
}

/** Replace the members when given; returns [added, removed]. */
async function replaceMembers(trx: Tx, teamId: number, members: readonly number[] | undefined): Promise<[number[], number[]]> {
  if (!members) return [[], []];
  const before = new Set((await trx.selectFrom("team_members").select("user_id").where("team_id", "=", teamId).execute()).map((r) => r.user_id));
  const after = new Set(members);
  const added = [...after].filter((u) => !before.has(u));
  const removed = [...before].filter((u) => !after.has(u));
  if (removed.length) await trx.deleteFrom("team_members").where("team_id", "=", teamId).where("user_id", "in", removed).execute();
  if (added.length)
    await trx
      .insertInto("team_members")
      .values(added.map((user_id) => ({ team_id: teamId, user_id, origin: "LOCAL" })))
      .execute();
  return [added, removed];
}

/** Write members and grants; check the caller holds what changed; returns the change in words. */
async function writeTeam(ctx: FleetAccessContext, trx: Tx, teamId: number, input: TeamUpdate, schema: string): Promise<{ words: string[]; change: ChangeEvent }> {
  // Grants before the change: a member who leaves loses them.
  const before = await allGrantTouches(trx, "TEAM", [teamId]);
  const grants = await replaceGrants(trx, "TEAM", teamId, input);
  const [added, removed] = await replaceMembers(trx, teamId, input.members);
  const words = [...grants.words];
  const touches = [...grants.touches];
  if (added.length || removed.length) {
    touches.push(...before, ...(await allGrantTouches(trx, "TEAM", [teamId])));
    if (added.length) words.push(`+members ${added.join(", ")}`);
    if (removed.length) words.push(`-members ${removed.join(", ")}`);
  }
  // Only members feel a grant: a team without members (before and after) changes nobody's access.
  const hadMembers = (await trx.selectFrom("team_members").select("user_id").where("team_id", "=", teamId).limit(1).execute()).length > 0 || removed.length > 0;
  if (hadMembers) await assertHoldsAccess(trx, ctx.session, touches, schema);
  // The members whose access may have changed: all of them when a grant changed, else those who came or went.
  const users = grants.touches.length ? (await trx.selectFrom("team_members").select("user_id").where("team_id", "=", teamId).execute()).map((r) => r.user_id) : [];
  const change = changeOf({ teams: [teamId], users: [...users, ...added, ...removed] });
  await recordChange(trx, change);
  return { words, change };
}

function publish(ctx: FleetAccessContext, msg: "added" | "changed", entry: TeamEntry): void {
  ctx.app.events.publish("team.query", msg, entry.id, entry);
}

export async function createTeam(ctx: FleetAccessContext, input: TeamCreate): Promise<TeamEntry> {
  const db = ctx.app.store.db;
  await validate(db, "team_create", input, null, true);
  ctx.auditSubject = input.name;
  let change!: ChangeEvent;
  const id = await db.transaction().execute(async (trx) => {
    const row = await trx.insertInto("teams").values({ name: input.name }).returning("id").executeTakeFirstOrThrow();
    const written = await writeTeam(ctx, trx, row.id, input, "team_create");
    if (written.words.length) ctx.auditSubject = `${input.name} (${written.words.join("; ")})`;
    change = written.change;
    return row.id;
  });
  ctx.app.changed(change);
  const entry = await getTeam(ctx, id);
  publish(ctx, "added", entry);
  return entry;
}

export async function updateTeam(ctx: FleetAccessContext, id: number, input: TeamUpdate): Promise<TeamEntry> {
  const db = ctx.app.store.db;
  const current = await getTeam(ctx, id);
  ctx.auditSubject = current.name;
  const renamed = input.name !== undefined && input.name !== current.name;
  await validate(db, "team_update", input, id, renamed);
  let change!: ChangeEvent;
  await db.transaction().execute(async (trx) => {
    if (renamed) await trx.updateTable("teams").set({ name: input.name! }).where("id", "=", id).execute();
    const written = await writeTeam(ctx, trx, id, input, "team_update");
    if (written.words.length) ctx.auditSubject = `${current.name} (${written.words.join("; ")})`;
    change = written.change;
  });
  ctx.app.changed(change);
  const entry = await getTeam(ctx, id);
  publish(ctx, "changed", entry);
  return entry;
}

/** Deletes a team with its grants and memberships. */
export async function deleteTeam(ctx: FleetAccessContext, id: number): Promise<true> {
  const db = ctx.app.store.db;
  const current = await getTeam(ctx, id);
  ctx.auditSubject = current.name;
  const change = changeOf({ teams: [id], users: current.members });
  await db.transaction().execute(async (trx) => {
    if (current.members.length) await assertHoldsAccess(trx, ctx.session, await allGrantTouches(trx, "TEAM", [id]), "team.delete");
    const gone = await trx.deleteFrom("fleet_access").where("owner_kind", "=", "TEAM").where("owner_id", "=", id).executeTakeFirst();
    await trx.deleteFrom("team_members").where("team_id", "=", id).execute();
    await trx.deleteFrom("teams").where("id", "=", id).execute();
    const n = Number(gone.numDeletedRows);
    if (n) ctx.auditSubject = `${current.name} (and its ${n} grant${n === 1 ? "" : "s"})`;
    await recordChange(trx, change);
  });
  ctx.app.changed(change);
  ctx.app.events.publish("team.query", "removed", id);
  return true;
}
