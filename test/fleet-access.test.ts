// Fleet access (issue 11 points 1, 3-6) through the API on both stores: system groups, teams, the
// fleet fields of users (entries, cached user.query), effective access and its explanation,
// deletes removing grants (audited), a fleet user's sign-in and what it may reach, a change
// taking effect on the very next call, and the access matrix job with its one-time download.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { forEachStore, rpcError, type TestServer } from "./harness.js";
import { PASSWORD, loginAs, makeAdmin, makeUser, randomName, start, type TestUser } from "./auth-helpers.js";
import type { RpcClient } from "../src/cli/client.js";
import { addSystem } from "./fleet-access-helpers.js";
import { Writable } from "node:stream";
import { fleetIndex } from "../src/fleet/access-index.js";
import { writeAccessMatrix } from "../src/fleet/matrix.js";

async function grantRows(ts: TestServer, where: { owner_kind?: string; owner_id?: number; target_kind?: string; target_id?: number }): Promise<number> {
  let q = ts.app.store.db.selectFrom("fleet_access").select("id");
  for (const [k, v] of Object.entries(where)) q = q.where(k as "owner_kind", "=", v as never);
  return (await q.execute()).length;
}

forEachStore("fleet access", (store) => {
  let ts: TestServer;
  let a: RpcClient;
  let admin: TestUser;
  const sys: number[] = [];

  before(async () => {
    ts = await start(store);
    admin = await makeAdmin(ts);
    a = await loginAs(ts, admin);
    for (let i = 0; i < 4; i++) sys.push(await addSystem(ts, `web${i}-${randomName("")}`));
  });
  after(() => ts.stop());

  describe("system groups and teams", () => {
    it("create, read, update and validate", async () => {
      const g = await a.call<any>("fleet.system_group.create", { name: randomName("grp"), systems: [sys[0], sys[1]] });
      assert.deepEqual(g.systems, [sys[0], sys[1]]);
      assert.deepEqual((await a.call<any>("fleet.system_group.get_instance", g.id)).systems, [sys[0], sys[1]]);
      const up = await a.call<any>("fleet.system_group.update", g.id, { systems: [sys[2]] });
      assert.deepEqual(up.systems, [sys[2]]);
      const dup = await rpcError(a.call("fleet.system_group.create", { name: g.name }));
      assert.equal(dup.data?.code, "fleet.system_group_name_taken");
      const missing = await rpcError(a.call("fleet.system_group.create", { name: randomName("grp"), systems: [999999] }));
      assert.equal(missing.data?.code, "fleet.system_not_found");

      const u = await makeUser(ts);
      const t = await a.call<any>("team.create", {
        name: randomName("team"),
        members: [u.id],
        systems: [{ system: sys[0], access: "READ" }],
        system_groups: [{ system_group: g.id, access: "READ_WRITE" }],
      });
      assert.deepEqual(t.members, [u.id]);
      assert.deepEqual(t.systems, [{ system: sys[0], access: "READ" }]);
      assert.deepEqual(t.system_groups, [{ system_group: g.id, access: "READ_WRITE" }]);
      const q = await a.call<any[]>("team.query", [["name", "=", t.name]]);
      assert.equal(q.length, 1);
      const twice = await rpcError(
        a.call("team.update", t.id, {
          systems: [
            { system: sys[0], access: "READ" },
            { system: sys[0], access: "READ_WRITE" },
          ],
        }),
      );
      assert.equal(twice.data?.code, "fleet.duplicate_entry");
      const bad = await rpcError(a.call("team.create", { name: randomName("team"), members: [987654] }));
      assert.equal(bad.data?.code, "team.member_not_found");
    });

    it("users carry teams, systems and system_groups in their entry (cached user.query too) and on create/update", async () => {
      const g = await a.call<any>("fleet.system_group.create", { name: randomName("grp"), systems: [sys[3]] });
      const t = await a.call<any>("team.create", { name: randomName("team") });
      const name = randomName("fu");
      const created = await a.call<any>("user.create", {
        username: name,
        full_name: name,
        password: PASSWORD,
        group_create: true,
        teams: [t.id],
        systems: [{ system: sys[1], access: "READ_WRITE" }],
        system_groups: [{ system_group: g.id, access: "READ" }],
      });
      assert.deepEqual(created.teams, [t.id]);
      assert.deepEqual(created.systems, [{ system: sys[1], access: "READ_WRITE" }]);
      assert.deepEqual(created.system_groups, [{ system_group: g.id, access: "READ" }]);
      const [viaQuery] = await a.call<any[]>("user.query", [["id", "=", created.id]]);
      assert.deepEqual([viaQuery.teams, viaQuery.systems, viaQuery.system_groups], [created.teams, created.systems, created.system_groups]);
      // The cached user.query sees a fleet change at once.
      await a.call("team.update", t.id, { members: [] });
      const [after1] = await a.call<any[]>("user.query", [["id", "=", created.id]]);
      assert.deepEqual(after1.teams, []);
      const updated = await a.call<any>("user.update", created.id, { systems: [{ system: sys[1], access: "READ" }], teams: [t.id] });
      assert.deepEqual(updated.systems, [{ system: sys[1], access: "READ" }]);
      assert.deepEqual(updated.teams, [t.id]);
      assert.deepEqual((await a.call<any>("team.get_instance", t.id)).members, [created.id]);
      // The change is audited with the grants it made.
      const rows = await a.call<any[]>("audit.query", { "query-filters": [["event", "=", "METHOD_CALL"]], "query-options": { order_by: ["-message_timestamp"], limit: 30 } });
      assert.ok(
        rows.some((r) => String(r.event_data?.description ?? "").includes(`Update user ${name} (fleet: SYSTEM ${sys[1]} READ_WRITE→READ; +teams ${t.id})`)),
        "audited grant change",
      );
    });
  });

  describe("effective access and its explanation", () => {
    it("precedence: a user's own READ beats a team's READ_WRITE; groups and teams below; shadowed entries listed", async () => {
      const u = await makeUser(ts);
      const g = await a.call<any>("fleet.system_group.create", { name: randomName("grp"), systems: [sys[0], sys[2]] });
      const t = await a.call<any>("team.create", {
        name: randomName("team"),
        members: [u.id],
        systems: [{ system: sys[0], access: "READ_WRITE" }],
        system_groups: [{ system_group: g.id, access: "READ" }],
      });
      await a.call("user.update", u.id, { systems: [{ system: sys[0], access: "READ" }] });
      const ex = await a.call<any>("fleet.access.explain", u.username, sys[0]);
      assert.equal(ex.access, "READ");
      assert.equal(ex.level, "USER_SYSTEM");
      assert.equal(ex.decided_by.owner_kind, "USER");
      assert.deepEqual(
        ex.shadowed.map((e: any) => e.level),
        ["TEAM_SYSTEM", "TEAM_SYSTEM_GROUP"],
      );
      assert.match(ex.text, /has READ on .*level 1/);
      const viaGroup = await a.call<any>("fleet.access.explain", u.id, sys[2]);
      assert.equal(viaGroup.access, "READ");
      assert.equal(viaGroup.level, "TEAM_SYSTEM_GROUP");
      assert.equal(viaGroup.decided_by.owner_name, t.name);
      const none = await a.call<any>("fleet.access.explain", u.id, sys[3]);
      assert.deepEqual([none.access, none.level, none.decided_by], ["NONE", null, null]);
      const adm = await a.call<any>("fleet.access.explain", admin.username, sys[3]);
      assert.deepEqual([adm.access, adm.level, adm.administrator], ["READ_WRITE", "ADMIN", true]);
    });

    it("a fleet user signs in, reaches only its own account and fleet methods, and loses access on the very next call", async () => {
      const u = await makeUser(ts);
      const plain = await makeUser(ts);
      const refused = await ts.client();
      assert.equal((await refused.login(u.username, u.password)).response_type, "DENIED", "no access: DENIED");
      const t = await a.call<any>("team.create", { name: randomName("team"), members: [u.id], systems: [{ system: sys[1], access: "READ" }] });
      const c = await loginAs(ts, u);
      assert.equal((await c.call<any>("auth.me")).pw_name, u.username);
      const ex = await c.call<any>("fleet.access.explain", u.username, sys[1]);
      assert.equal(ex.access, "READ");
      // Invisible systems are not found; other users' access is not theirs to read.
      assert.equal((await rpcError(c.call("fleet.access.explain", u.username, sys[3]))).data?.code, "fleet.system_not_found");
      assert.equal((await rpcError(c.call("fleet.access.explain", plain.username, sys[1]))).data?.code, "access.target_not_authorized");
      for (const m of ["user.query", "group.query", "team.query", "fleet.system_group.query", "privilege.query", "audit.query", "system.info"]) {
        if (!ts.app.registry.get(m)) continue;
        const err = await rpcError(c.call(m));
        assert.equal(err.data?.errname, "EACCES", m);
      }
      // Removing the user from the team: the next call finds the session ended (no access left).
      await a.call("team.update", t.id, { members: [] });
      const gone = await c.call("auth.me").then(
        () => "still in",
        (e: any) => e.data?.errname ?? e.message,
      );
      assert.notEqual(gone, "still in");
    });

    it("deleting a team, a group or a user removes its grants", async () => {
      const u = await makeUser(ts);
      const g = await a.call<any>("fleet.system_group.create", { name: randomName("grp"), systems: [sys[0]] });
      const t = await a.call<any>("team.create", { name: randomName("team"), system_groups: [{ system_group: g.id, access: "READ" }], systems: [{ system: sys[1], access: "READ" }] });
      await a.call("user.update", u.id, { system_groups: [{ system_group: g.id, access: "READ" }], systems: [{ system: sys[2], access: "READ" }] });
      assert.equal(await grantRows(ts, { target_kind: "SYSTEM_GROUP", target_id: g.id }), 2);
      await a.call("fleet.system_group.delete", g.id);
      assert.equal(await grantRows(ts, { target_kind: "SYSTEM_GROUP", target_id: g.id }), 0);
      assert.equal(await grantRows(ts, { owner_kind: "TEAM", owner_id: t.id }), 1);
      await a.call("team.delete", t.id);
      assert.equal(await grantRows(ts, { owner_kind: "TEAM", owner_id: t.id }), 0);
      await a.call("user.delete", u.id);
      assert.equal(await grantRows(ts, { owner_kind: "USER", owner_id: u.id }), 0);
      const rows = await a.call<any[]>("audit.query", {
        "query-filters": [
          ["event", "=", "METHOD_CALL"],
          ["event_data.description", "^", "Delete "],
        ],
        "query-options": { limit: 1000 },
      });
      const texts = rows.map((r) => String(r.event_data?.description ?? ""));
      assert.ok(
        texts.some((x) => x === `Delete system group ${g.name} (and its 2 grants)`),
        texts.join("\n"),
      );
      assert.ok(
        texts.some((x) => x === `Delete team ${t.name} (and its 1 grant)`),
        texts.join("\n"),
      );
    });
  });

  describe("access matrix", () => {
    it("a job writes every pair with access to a file fetched once over HTTP, bound to the job", async () => {
      const u = await makeUser(ts);
      await a.call("user.update", u.id, { systems: [{ system: sys[0], access: "READ_WRITE" }] });
      const r = await a.callJob<any>("fleet.access.matrix", { format: "CSV" });
      assert.match(r.url, /^\/_download\/\d+\/[A-Za-z0-9_-]{43}$/);
      const [, , jobId, token] = r.url.split("/");
      // Another job's id with this token: refused, and the token is spent.
      const wrongJob = await fetch(`${ts.httpUrl}/_download/${Number(jobId) + 1000}/${token}`);
      assert.equal(wrongJob.status, 404);
      const again = await a.callJob<any>("fleet.access.matrix", { format: "CSV" });
      const res = await fetch(`${ts.httpUrl}${again.url}`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /text\/csv/);
      const text = await res.text();
      const lines = text.trim().split("\n");
      assert.equal(lines[0], "username,user_id,system,system_id,access,level,grant_id");
      assert.equal(lines.length - 1, again.pairs);
      assert.ok(
        lines.some((l) => l.startsWith(`${u.username},${u.id},`) && l.includes(",READ_WRITE,USER_SYSTEM,")),
        "the user's pair",
      );
      assert.ok(
        lines.some((l) => l.startsWith(`${admin.username},`) && l.includes(",ADMIN,")),
        "administrators: every system",
      );
      assert.equal((await fetch(`${ts.httpUrl}${again.url}`)).status, 404, "single use");
      const dir = path.join(ts.dataDir, "private", "downloads");
      // The server removes a file when its stream closes, which may follow the last byte a moment later.
      const left = async () => {
        for (let i = 0; i < 50; i++) {
          const files = existsSync(dir) ? readdirSync(dir) : [];
          if (!files.length) return files;
          await new Promise((r) => setTimeout(r, 50));
        }
        return existsSync(dir) ? readdirSync(dir) : [];
      };
      assert.deepEqual(await left(), [], "downloaded and refused files are removed");
      const json = await a.callJob<any>("fleet.access.matrix", { format: "JSON" });
      const rows = (await (await fetch(`${ts.httpUrl}${json.url}`)).json()) as any[];
      assert.equal(rows.length, json.pairs);
      assert.ok(rows.some((x) => x.user_id === u.id && x.system_id === sys[0] && x.access === "READ_WRITE"));
    });

    it("a version read after a change reuses the text pieces of teams whose grants and systems read the same, builds the others anew, and every export says what the store holds", async () => {
      const u = await makeUser(ts);
      const t = await a.call<any>("team.create", { name: randomName("team"), members: [u.id], systems: [{ system: sys[1], access: "READ" }] });
      const other = await a.call<any>("team.create", { name: randomName("team"), systems: [{ system: sys[3], access: "READ" }] });
      const exported = async () => {
        let text = "";
        const sink = new Writable({ write: (chunk, _enc, cb) => void ((text += String(chunk)), cb()) });
        await writeAccessMatrix(ts.app.store, sink, { format: "CSV", users: [u.id] });
        // user,user_id,system,system_id,access,level,grant_id → "system system_id access level"
        return text
          .trim()
          .split("\n")
          .slice(1)
          .map((l) => l.split(",").slice(2, 6).join(" "))
          .sort();
      };
      // The team's candidate list in the current version (exported first, so it is built).
      const pieces = async (team: number) => ((await fleetIndex(ts.app.store)).derived.get("matrix.team.csv") as Map<number, unknown> | undefined)?.get(team);
      const nameOf = async (id: number) => (await ts.app.store.db.selectFrom("fleet_systems").select("name").where("id", "=", id).executeTakeFirstOrThrow()).name;
      const name1 = await nameOf(sys[1]!);
      const name2 = await nameOf(sys[2]!);
      assert.deepEqual(await exported(), [`${name1} ${sys[1]} READ TEAM_SYSTEM`]);
      const first = await pieces(t.id);
      assert.ok(first, "the export built the team's pieces");

      // A user's own grant moves the stamp, and another team's change too: a new version, the team's pieces reused.
      const before = await fleetIndex(ts.app.store);
      await a.call("user.update", u.id, { systems: [{ system: sys[2], access: "READ_WRITE" }] });
      await a.call("team.update", other.id, { systems: [{ system: sys[3], access: "READ_WRITE" }] });
      assert.deepEqual(await exported(), [`${name1} ${sys[1]} READ TEAM_SYSTEM`, `${name2} ${sys[2]} READ_WRITE USER_SYSTEM`].sort());
      assert.notEqual(await fleetIndex(ts.app.store), before, "a new version was read");
      assert.equal(await pieces(t.id), first, "reused");

      // The team's grant changed: built anew, and the export says READ_WRITE.
      await a.call("team.update", t.id, { systems: [{ system: sys[1], access: "READ_WRITE" }] });
      assert.deepEqual(await exported(), [`${name1} ${sys[1]} READ_WRITE TEAM_SYSTEM`, `${name2} ${sys[2]} READ_WRITE USER_SYSTEM`].sort());
      const third = await pieces(t.id);
      assert.notEqual(third, first);

      // The system it reaches renamed (straight in the store): built anew, and the export names it so.
      const renamed = randomName("renamed");
      await ts.app.store.db.updateTable("fleet_systems").set({ name: renamed }).where("id", "=", sys[1]!).execute();
      assert.deepEqual(await exported(), [`${renamed} ${sys[1]} READ_WRITE TEAM_SYSTEM`, `${name2} ${sys[2]} READ_WRITE USER_SYSTEM`].sort());
      assert.notEqual(await pieces(t.id), third);
      await ts.app.store.db.updateTable("fleet_systems").set({ name: name1 }).where("id", "=", sys[1]!).execute();
      await a.call("team.delete", t.id);
      await a.call("team.delete", other.id);
    });
  });
});
