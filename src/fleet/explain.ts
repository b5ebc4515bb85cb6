// fleet.access.explain(user, system) (issue 11 point 6): the effective access of a user to a
// system, the level and grant that decided it, and every grant it shadowed — as data and in words.
//
// Who may ask: holders of FLEET_READ (FULL_ADMIN, READONLY_ADMIN, FLEET_WRITE include it) about
// any user and system; anyone else only about themselves and a system they may see (a system
// they may not see is answered as not found, so its existence does not leak).

import { param, prepare } from "../auth/prepared.js";
import { CallError, instanceNotFound } from "../server/errors.js";
import { callerHolds } from "../access/grant-check.js";
import { expandRoles } from "../access/roles.js";
import { rolesOfUser } from "../access/privileges.js";
import type { FleetAccessContext } from "./context.js";
import type { ExplainedEntry, Explanation } from "./access-schemas.js";
import { decide, levelOf, subjectOfSession, type AccessEntry } from "./effective-access.js";
import { fleetIndex, remember, userPart, type FleetIndex, type FleetStore } from "./access-index.js";

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

/** The explained user: its name and whether it is an administrator (holds FULL_ADMIN). */
interface Person {
  id: number;
  username: string;
  administrator: boolean;
}

/** The user `ref` names, read once per version of the store (users and privileges move the stamp). */
async function findPerson(store: FleetStore, ix: FleetIndex, ref: Ref): Promise<Person> {
  const key = `explain.user:${typeof ref}:${ref}`;
  const kept = ix.memo.get(key) as Person | undefined;
  if (kept) return kept;
  const db = store.db;
  const [found, roles] = await Promise.allSettled([typeof ref === "number" ? userById.first(db, ref) : userByName.first(db, ref), typeof ref === "number" ? rolesOfUser(db, ref) : null]);
  if (found.status === "rejected") throw found.reason;
  const row = found.value;
  if (!row) instanceNotFound("User", ref, "user.not_found");
  const userRoles = roles.status === "fulfilled" && roles.value ? roles.value : await rolesOfUser(db, row.id);
  const person: Person = { id: Number(row.id), username: row.username, administrator: expandRoles(userRoles).has("FULL_ADMIN") };
  remember(store, ix, key, person);
  return person;
}

function findSystem(ix: FleetIndex, ref: Ref): { id: number; name: string } {
  const id = typeof ref === "number" ? ref : ix.systemByName.get(ref);
  const name = id === undefined ? undefined : ix.systems.get(id);
  if (id === undefined || name === undefined) instanceNotFound("System", ref, "fleet.system_not_found");
  return { id, name };
}

/** Names of the owners and targets of `entries` (the explained user's own name given), keyed `KIND:id`. */
function namesOf(ix: FleetIndex, user: { id: number; username: string }, entries: readonly AccessEntry[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of entries) {
    if (e.owner_kind === "USER" && e.owner_id === user.id) out.set(`USER:${e.owner_id}`, user.username);
    const owner = e.owner_kind === "TEAM" ? ix.teamNames.get(e.owner_id) : undefined;
    if (owner !== undefined) out.set(`TEAM:${e.owner_id}`, owner);
    const target = e.target_kind === "SYSTEM" ? ix.systems.get(e.target_id) : ix.groupNames.get(e.target_id);
    if (target !== undefined) out.set(`${e.target_kind}:${e.target_id}`, target);
  }
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

/**
 * Explain (user, system) as the store says now: from the fleet index (./access-index.ts: one
 * version of the store, read again after any change) and, read once per version, the user.
 */
export async function explainAccess(ctx: FleetAccessContext, userRef: Ref, systemRef: Ref): Promise<Explanation> {
  const store = ctx.app.store;
  const session = ctx.session;
  const mayReadAll = !session || callerHolds(session, "FLEET_READ");
  const ix = await fleetIndex(store);
  // The user's answer (not found, not yours) is given first.
  const person = await findPerson(store, ix, userRef);
  const user = { id: person.id, username: person.username };
  if (!mayReadAll && user.id !== session!.userId) {
    throw new CallError(`${session!.username}: explaining another user's access requires the FLEET_READ role.`, "access.target_not_authorized");
  }
  const system = findSystem(ix, systemRef);
  const entries = ix.pairEntries(await userPart(store, ix, user.id), system.id) ?? [];
  // A caller without FLEET_READ explains itself: these entries are its own, so they also say
  // whether it may see the system at all.
  if (!mayReadAll && decide(subjectOfSession(session!), entries).access === "NONE") instanceNotFound("System", systemRef, "fleet.system_not_found");
  const administrator = person.administrator;
  const decision = decide({ admin: administrator }, entries);
  const names = namesOf(ix, user, [...(decision.decided_by ? [decision.decided_by] : []), ...decision.shadowed]);
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
