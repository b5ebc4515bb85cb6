// fleet.access.explain(user, system) (issue 11 point 6): the effective access of a user to a
// system, the level and grant that decided it, and every grant it shadowed — as data and in words.
//
// Who may ask: holders of FLEET_READ (FULL_ADMIN, READONLY_ADMIN, FLEET_WRITE include it) about
// any user and system; anyone else only about themselves and a system they may see (a system
// they may not see is answered as not found, so its existence does not leak).

import type { Tx } from "../store/db.js";
import { param, prepare } from "../auth/prepared.js";
import { CallError, instanceNotFound } from "../server/errors.js";
import { callerHolds } from "../access/grant-check.js";
import { expandRoles } from "../access/roles.js";
import { rolesOfUser } from "../access/privileges.js";
import type { FleetAccessContext } from "./context.js";
import type { ExplainedEntry, Explanation } from "./access-schemas.js";
import { decide, levelOf, pairAccessEntries, subjectOfSession, type AccessEntry } from "./effective-access.js";

const LEVEL_WORDS = {
  USER_SYSTEM: "level 1, the user's own grant on the system",
  USER_SYSTEM_GROUP: "level 2, the user's own grant on a group containing the system",
  TEAM_SYSTEM: "level 3, a team's grant on the system",
  TEAM_SYSTEM_GROUP: "level 4, a team's grant on a group containing the system",
} as const;

type Ref = number | string;

// The lookups of every explain call, compiled once per store (explain's aim is p99 ≤ 2 ms).
const userById = prepare<[number]>()(1, (db) => db.selectFrom("users").select(["id", "username"]).where("id", "=", param<number>(0)).compile());
const userByName = prepare<[string]>()(1, (db) => db.selectFrom("users").select(["id", "username"]).where("username", "=", param<string>(0)).compile());
const systemById = prepare<[number]>()(1, (db) => db.selectFrom("fleet_systems").select(["id", "name"]).where("id", "=", param<number>(0)).compile());
const systemByName = prepare<[string]>()(1, (db) => db.selectFrom("fleet_systems").select(["id", "name"]).where("name", "=", param<string>(0)).compile());

async function findUser(db: Tx, ref: Ref): Promise<{ id: number; username: string }> {
  const row = typeof ref === "number" ? await userById.first(db, ref) : await userByName.first(db, ref);
  if (!row) instanceNotFound("User", ref, "user.not_found");
  return row;
}

async function findSystem(db: Tx, ref: Ref): Promise<{ id: number; name: string }> {
  const row = typeof ref === "number" ? await systemById.first(db, ref) : await systemByName.first(db, ref);
  if (!row) instanceNotFound("System", ref, "fleet.system_not_found");
  return row;
}

/** Names of the owners and targets of `entries`, keyed `KIND:id`. */
async function namesOf(db: Tx, entries: readonly AccessEntry[]): Promise<Map<string, string>> {
  const ids = (pick: (e: AccessEntry) => number | null) => [...new Set(entries.map(pick).filter((x): x is number => x !== null))];
  const users = ids((e) => (e.owner_kind === "USER" ? e.owner_id : null));
  const teams = ids((e) => (e.owner_kind === "TEAM" ? e.owner_id : null));
  const systems = ids((e) => (e.target_kind === "SYSTEM" ? e.target_id : null));
  const groups = ids((e) => (e.target_kind === "SYSTEM_GROUP" ? e.target_id : null));
  const out = new Map<string, string>();
  const [u, t, s, g] = await Promise.all([
    users.length ? db.selectFrom("users").select(["id", "username as name"]).where("id", "in", users).execute() : [],
    teams.length ? db.selectFrom("teams").select(["id", "name"]).where("id", "in", teams).execute() : [],
    systems.length ? db.selectFrom("fleet_systems").select(["id", "name"]).where("id", "in", systems).execute() : [],
    groups.length ? db.selectFrom("fleet_system_groups").select(["id", "name"]).where("id", "in", groups).execute() : [],
  ]);
  for (const r of u) out.set(`USER:${r.id}`, r.name);
  for (const r of t) out.set(`TEAM:${r.id}`, r.name);
  for (const r of s) out.set(`SYSTEM:${r.id}`, r.name);
  for (const r of g) out.set(`SYSTEM_GROUP:${r.id}`, r.name);
  return out;
}

function describeEntry(e: AccessEntry, names: Map<string, string>): ExplainedEntry {
  const owner_name = names.get(`${e.owner_kind}:${e.owner_id}`) ?? String(e.owner_id);
  const target_name = names.get(`${e.target_kind}:${e.target_id}`) ?? String(e.target_id);
  const owner = e.owner_kind === "USER" ? `user ${owner_name}` : `team ${owner_name}`;
  const target = e.target_kind === "SYSTEM" ? `system ${target_name}` : `system group ${target_name}`;
  return { ...e, level: levelOf(e), owner_name, target_name, text: `${owner}: ${e.access} on ${target}` };
}

/** The explanation of the decision for (user, system), in words. */
function words(user: string, system: string, ex: Omit<Explanation, "text">): string {
  if (ex.administrator) return `${user} holds FULL_ADMIN: READ_WRITE on every system, ${system} included.${ex.shadowed.length ? ` ${ex.shadowed.length} grant(s) apply but do not matter.` : ""}`;
  if (!ex.decided_by) return `${user} has no access to ${system}: no grant of the user or of the user's teams reaches it (the system is invisible to them).`;
  const d = ex.decided_by;
  const parts = [`${user} has ${ex.access} on ${system}: decided at ${LEVEL_WORDS[d.level]} (${d.text}).`];
  for (const s of ex.shadowed) {
    const why = s.level === d.level ? "the most permissive grant of the same level wins" : "an earlier level decides";
    parts.push(`Shadowed: ${s.text} (${LEVEL_WORDS[s.level]}; ${why}).`);
  }
  return parts.join(" ");
}

/** Explain (user, system) as the store says now. */
export async function explainAccess(ctx: FleetAccessContext, userRef: Ref, systemRef: Ref): Promise<Explanation> {
  const db = ctx.app.store.db;
  const session = ctx.session;
  const mayReadAll = !session || callerHolds(session, "FLEET_READ");
  // Both looked up at once; the user's answer (not found, not yours) is given first.
  const [foundUser, foundSystem] = await Promise.allSettled([findUser(db, userRef), findSystem(db, systemRef)]);
  if (foundUser.status === "rejected") throw foundUser.reason;
  const user = foundUser.value;
  if (!mayReadAll && user.id !== session!.userId) {
    throw new CallError(`${session!.username}: explaining another user's access requires the FLEET_READ role.`, "access.target_not_authorized");
  }
  if (foundSystem.status === "rejected") throw foundSystem.reason;
  const system = foundSystem.value;
  const [entries, roles] = await Promise.all([pairAccessEntries(db, user.id, system.id), rolesOfUser(db, user.id)]);
  // A caller without FLEET_READ explains itself: these entries are its own, so they also say
  // whether it may see the system at all (no second read of the same grants).
  if (!mayReadAll && decide(subjectOfSession(session!), entries ?? []).access === "NONE") instanceNotFound("System", systemRef, "fleet.system_not_found");
  const administrator = expandRoles(roles).has("FULL_ADMIN");
  const decision = decide({ admin: administrator }, entries ?? []);
  const names = await namesOf(db, [...(decision.decided_by ? [decision.decided_by] : []), ...decision.shadowed]);
  const ex = {
    user,
    system,
    access: decision.access,
    administrator,
    level: decision.level,
    decided_by: decision.decided_by ? describeEntry(decision.decided_by, names) : null,
    shadowed: decision.shadowed.map((e) => describeEntry(e, names)),
  };
  return { ...ex, text: words(user.username, system.name, ex) };
}
