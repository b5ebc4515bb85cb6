// Property (issue 11 acceptance): the precedence rule of effective access, as the store computes
// it (src/fleet/effective-access.ts), equals a small reference model written here, for random
// users, teams, systems, system groups and grants: every (user, system) pair's access and
// explanation (deciding level and entry, shadowed entries in order), the per-user map used by
// queries, and "may sign in without a privilege" — both as the store's statements compute them
// and as the in-memory fleet index (src/fleet/access-index.ts) and fleet.access.explain do. The
// worlds are written with plain statements between checks, so the index must notice every one.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { sql } from "kysely";
import { forEachStore, freshPgDatabase, withTestApp } from "./harness.js";
import type { App } from "../src/app.js";
import { Writable } from "node:stream";
import { accessBySystem, effectiveAccess, hasAnySystemAccess } from "../src/fleet/effective-access.js";
import { writeAccessMatrix } from "../src/fleet/matrix.js";
import { fleetIndex, userPart } from "../src/fleet/access-index.js";
import { explainAccess } from "../src/fleet/explain.js";
import { decide } from "../src/fleet/effective-access.js";

type Access = "READ" | "READ_WRITE";
interface Grant {
  owner: ["USER" | "TEAM", number];
  target: ["SYSTEM" | "SYSTEM_GROUP", number];
  access: Access;
}
interface World {
  users: number;
  systems: number;
  groups: boolean[][]; // groups[g][s]: system s is in group g
  teams: boolean[][]; // teams[t][u]: user u is in team t
  grants: Grant[];
  /** Systems deleted after the grants were made (their grants remain, as rows pointing nowhere). */
  deleted: number[];
}

const world: fc.Arbitrary<World> = fc
  .record({ users: fc.integer({ min: 1, max: 4 }), systems: fc.integer({ min: 1, max: 5 }), groups: fc.integer({ min: 0, max: 3 }), teams: fc.integer({ min: 0, max: 3 }) })
  .chain((n) =>
    fc.record({
      users: fc.constant(n.users),
      systems: fc.constant(n.systems),
      groups: fc.array(fc.array(fc.boolean(), { minLength: n.systems, maxLength: n.systems }), { minLength: n.groups, maxLength: n.groups }),
      teams: fc.array(fc.array(fc.boolean(), { minLength: n.users, maxLength: n.users }), { minLength: n.teams, maxLength: n.teams }),
      grants: fc.uniqueArray(
        fc.record({
          owner: n.teams
            ? fc.oneof(fc.tuple(fc.constant("USER" as const), fc.nat(n.users - 1)), fc.tuple(fc.constant("TEAM" as const), fc.nat(n.teams - 1)))
            : fc.tuple(fc.constant("USER" as const), fc.nat(n.users - 1)),
          target: n.groups
            ? fc.oneof(fc.tuple(fc.constant("SYSTEM" as const), fc.nat(n.systems - 1)), fc.tuple(fc.constant("SYSTEM_GROUP" as const), fc.nat(n.groups - 1)))
            : fc.tuple(fc.constant("SYSTEM" as const), fc.nat(n.systems - 1)),
          access: fc.constantFrom<Access>("READ", "READ_WRITE"),
        }),
        { maxLength: 14, selector: (g) => `${g.owner.join(":")}/${g.target.join(":")}` },
      ),
      deleted: fc.subarray([...Array(n.systems).keys()], { maxLength: 1 }),
    }),
  );

// ---- the reference model ---------------------------------------------------------------------

interface ModelEntry {
  grant: number; // index into world.grants
  level: number; // 1..4
  access: Access;
}

const LEVEL_NAMES = ["", "USER_SYSTEM", "USER_SYSTEM_GROUP", "TEAM_SYSTEM", "TEAM_SYSTEM_GROUP"];

/** Every grant that applies to (u, s), with its level. */
function applicable(w: World, u: number, s: number): ModelEntry[] {
  const out: ModelEntry[] = [];
  w.grants.forEach((g, i) => {
    const [ok, oid] = g.owner;
    const [tk, tid] = g.target;
    const mine = ok === "USER" ? oid === u : w.teams[oid]![u]!;
    const reaches = tk === "SYSTEM" ? tid === s : w.groups[tid]![s]!;
    if (!mine || !reaches) return;
    const level = (ok === "USER" ? 1 : 3) + (tk === "SYSTEM" ? 0 : 1);
    out.push({ grant: i, level, access: g.access });
  });
  return out;
}

/** The model's decision: the first level with entries decides; most permissive wins; ties to the first made. */
function model(w: World, u: number, s: number): { access: string; level: string | null; decided: number | null; shadowed: number[] } {
  if (w.deleted.includes(s)) return { access: "NONE", level: null, decided: null, shadowed: [] };
  const entries = applicable(w, u, s);
  for (let level = 1; level <= 4; level++) {
    const here = entries.filter((e) => e.level === level);
    if (!here.length) continue;
    const rw = here.filter((e) => e.access === "READ_WRITE");
    const winner = (rw.length ? rw : here)[0]!; // grants are inserted in index order: lowest id first
    const rank = (e: ModelEntry) => e.level * 4 + (e.access === "READ_WRITE" ? 0 : 1);
    const shadowed = entries.filter((e) => e !== winner).sort((a, b) => rank(a) - rank(b) || a.grant - b.grant);
    return { access: winner.access, level: LEVEL_NAMES[level]!, decided: winner.grant, shadowed: shadowed.map((e) => e.grant) };
  }
  return { access: "NONE", level: null, decided: null, shadowed: [] };
}

// ---- the store -------------------------------------------------------------------------------

interface Ids {
  users: number[];
  systems: number[];
  grants: Map<number, number>; // fleet_access.id → grant index
}

async function clear(app: App): Promise<void> {
  const db = app.store.db;
  for (const t of ["fleet_access", "team_members", "teams", "fleet_system_group_members", "fleet_system_groups", "fleet_systems"] as const) await db.deleteFrom(t).execute();
}

async function load(app: App, w: World, userIds: number[], run: number): Promise<Ids> {
  const db = app.store.db;
  await clear(app);
  const systems: number[] = [];
  for (let i = 0; i < w.systems; i++) {
    const r = await db
      .insertInto("fleet_systems")
      .values({ name: `s${run}_${i}`, url: "ws://127.0.0.1:1/api/current", api_key: "x", verify_ssl: 1 } as never)
      .returning("id")
      .executeTakeFirstOrThrow();
    systems.push(Number(r.id));
  }
  const groups: number[] = [];
  for (let g = 0; g < w.groups.length; g++) {
    const r = await db
      .insertInto("fleet_system_groups")
      .values({ name: `g${run}_${g}` })
      .returning("id")
      .executeTakeFirstOrThrow();
    groups.push(Number(r.id));
    for (let s = 0; s < w.systems; s++)
      if (w.groups[g]![s])
        await db
          .insertInto("fleet_system_group_members")
          .values({ system_group_id: Number(r.id), system_id: systems[s]! })
          .execute();
  }
  const teams: number[] = [];
  for (let t = 0; t < w.teams.length; t++) {
    const r = await db
      .insertInto("teams")
      .values({ name: `t${run}_${t}` })
      .returning("id")
      .executeTakeFirstOrThrow();
    teams.push(Number(r.id));
    for (let u = 0; u < w.users; u++)
      if (w.teams[t]![u])
        await db
          .insertInto("team_members")
          .values({ team_id: Number(r.id), user_id: userIds[u]! })
          .execute();
  }
  const grants = new Map<number, number>();
  for (const [i, g] of w.grants.entries()) {
    const owner_id = g.owner[0] === "USER" ? userIds[g.owner[1]]! : teams[g.owner[1]]!;
    const target_id = g.target[0] === "SYSTEM" ? systems[g.target[1]]! : groups[g.target[1]]!;
    const r = await db.insertInto("fleet_access").values({ owner_kind: g.owner[0], owner_id, target_kind: g.target[0], target_id, access: g.access }).returning("id").executeTakeFirstOrThrow();
    grants.set(Number(r.id), i);
  }
  // A deleted system leaves its direct grants behind here on purpose (the code must not count them).
  for (const s of w.deleted) {
    await db.deleteFrom("fleet_system_group_members").where("system_id", "=", systems[s]!).execute();
    await db.deleteFrom("fleet_systems").where("id", "=", systems[s]!).execute();
  }
  return { users: userIds, systems, grants };
}

async function makeUsers(app: App, n: number): Promise<number[]> {
  const db = app.store.db;
  const group = await db.selectFrom("groups").select("id").where("gid", "=", 545).executeTakeFirstOrThrow();
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await db
      .insertInto("users")
      .values({ uid: 700_000 + i, username: `prop${i}`, home: "/var/empty", shell: "/usr/sbin/nologin", full_name: `prop${i}`, group_id: group.id, created_at: Date.now() } as never)
      .returning("id")
      .executeTakeFirstOrThrow();
    ids.push(Number(r.id));
  }
  return ids;
}

/** The fleet index (fleet.system.query's access) and fleet.access.explain say what the model says for user `u`. */
async function checkIndex(app: App, w: World, ids: Ids, u: number): Promise<void> {
  const ix = await fleetIndex(app.store);
  const part = await userPart(app.store, ix, ids.users[u]!);
  const map = ix.accessBySystem(part, false);
  for (let s = 0; s < w.systems; s++) {
    const want = model(w, u, s);
    const d = decide({ admin: false }, ix.pairEntries(part, ids.systems[s]!) ?? []);
    const fromIndex = { access: d.access, level: d.level, decided: d.decided_by ? ids.grants.get(d.decided_by.id)! : null, shadowed: d.shadowed.map((e) => ids.grants.get(e.id)!) };
    assert.deepEqual(fromIndex, want, `index: user ${u}, system ${s}`);
    assert.equal(map.get(ids.systems[s]!) ?? "NONE", want.access, `index accessBySystem: user ${u}, system ${s}`);
    if (w.deleted.includes(s)) continue;
    const ex = await explainAccess({ app, session: null }, ids.users[u]!, ids.systems[s]!);
    const explained = { access: ex.access, level: ex.level, decided: ex.decided_by ? ids.grants.get(ex.decided_by.id)! : null, shadowed: ex.shadowed.map((e) => ids.grants.get(e.id)!) };
    assert.deepEqual(explained, want, `explain: user ${u}, system ${s}`);
  }
}

async function check(app: App, w: World, ids: Ids): Promise<void> {
  const db = app.store.db;
  for (let u = 0; u < w.users; u++) {
    const subject = { userId: ids.users[u]!, admin: false };
    const map = await accessBySystem(db, subject);
    let any = false;
    for (let s = 0; s < w.systems; s++) {
      const want = model(w, u, s);
      const got = await effectiveAccess(db, subject, ids.systems[s]!);
      const explained = {
        access: got.access,
        level: got.level,
        decided: got.decided_by ? ids.grants.get(got.decided_by.id)! : null,
        shadowed: got.shadowed.map((e) => ids.grants.get(e.id)!),
      };
      assert.deepEqual(explained, want, `user ${u}, system ${s}`);
      assert.equal(map.get(ids.systems[s]!) ?? "NONE", want.access, `accessBySystem: user ${u}, system ${s}`);
      any ||= want.access !== "NONE";
      const admin = await effectiveAccess(db, { userId: ids.users[u]!, admin: true }, ids.systems[s]!);
      assert.equal(admin.access, w.deleted.includes(s) ? "NONE" : "READ_WRITE");
      const ro = await effectiveAccess(db, { ...subject, readonly: true }, ids.systems[s]!);
      assert.equal(ro.access, want.access === "READ_WRITE" ? "READ" : want.access);
    }
    assert.equal(map.size, [...Array(w.systems).keys()].filter((s) => model(w, u, s).access !== "NONE").length);
    await checkIndex(app, w, ids, u);
    assert.equal(await hasAnySystemAccess(db, ids.users[u]!), any, `hasAnySystemAccess: user ${u}`);
  }
  // The access matrix (one pass, decided in memory) says the same for every pair.
  let text = "";
  const sink = new Writable({ write: (chunk, _enc, cb) => void ((text += String(chunk)), cb()) });
  await writeAccessMatrix(app.store, sink, { format: "JSON", users: ids.users });
  const got = (JSON.parse(text) as { user_id: number; system_id: number; access: string; level: string; grant_id: number }[])
    .map((r) => `${ids.users.indexOf(r.user_id)}/${ids.systems.indexOf(r.system_id)}/${r.access}/${r.level}/${ids.grants.get(r.grant_id)}`)
    .sort();
  const want: string[] = [];
  for (let u = 0; u < w.users; u++)
    for (let s = 0; s < w.systems; s++) {
      const m = model(w, u, s);
      if (m.access !== "NONE") want.push(`${u}/${s}/${m.access}/${m.level}/${m.decided}`);
    }
  assert.deepEqual(got, want.sort(), "access matrix");
}

forEachStore("fleet effective access equals the reference model", (store) => {
  test("random worlds", async () => {
    const database = store === "postgres" ? await freshPgDatabase() : undefined;
    await withTestApp(database, async (app) => {
      if (store === "sqlite") await sql`pragma foreign_keys = on`.execute(app.store.db);
      const users = await makeUsers(app, 4);
      let run = 0;
      await fc.assert(
        fc.asyncProperty(world, async (w) => {
          const ids = await load(app, w, users, run++);
          await check(app, w, ids);
        }),
        { numRuns: store === "postgres" ? 60 : 150 },
      );
    });
  });
});
