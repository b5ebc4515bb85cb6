// Threat: access answered from a cache after it was revoked. fleet.system.query, get_instance and
// fleet.access.explain answer from an in-memory fleet index (src/fleet/access-index.ts) kept per
// version of the store. An attacker whose team membership, group or grant was taken away — in this
// process, in another server process on the same store, or by a plain statement such as the CLI
// makes — must not see the system on its very next call in either process (on PostgreSQL, in the
// process that did not make the change: its next call once the change's notification arrived,
// which the tests allow NOTIFY_WINDOW_MS for: test/harness.ts onceNotified). Both processes are warmed first (each holds an index
// that still grants the access) so a stale answer would show. Names in explanations follow renames
// the same way.

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { forEachStore, onceNotified, rpcError, type TestServer } from "../harness.js";
import { PASSWORD, loginAs, makeAdmin, makeUser, randomName, start, type TestUser } from "../auth-helpers.js";
import { startServerProcess, type ServerProcess } from "../process-harness.js";
import { addSystem } from "../fleet-access-helpers.js";
import type { RpcClient } from "../../src/cli/client.js";

forEachStore("fleet access revoked in one process is refused on the next call in every process", (store) => {
  let ts: TestServer;
  let other: ServerProcess;
  let a1: RpcClient; // administrator, this process
  let a2: RpcClient; // administrator, the other process
  let u: TestUser;
  let c1: RpcClient; // the fleet user, this process
  let c2: RpcClient; // the fleet user, the other process
  let keep: number;
  let gone: number;
  let group: number;
  let team: number;

  before(async () => {
    ts = await start(store);
    const admin = await makeAdmin(ts);
    a1 = await loginAs(ts, admin);
    keep = await addSystem(ts);
    gone = await addSystem(ts);
    group = (await a1.call<{ id: number }>("fleet.system_group.create", { name: randomName("grp"), systems: [gone] })).id;
    u = await makeUser(ts);
    // A grant of its own on `keep` keeps the user signed in while the rest is taken away.
    await a1.call("user.update", u.id, { systems: [{ system: keep, access: "READ_WRITE" }] });
    team = (await a1.call<{ id: number }>("team.create", { name: randomName("team"), members: [u.id], system_groups: [{ system_group: group, access: "READ_WRITE" }] })).id;
    other = await startServerProcess(store === "postgres" ? { databaseUrl: ts.config.database! } : { dataDir: ts.dataDir });
    a2 = await other.client();
    assert.equal((await a2.login(admin.username, PASSWORD)).response_type, "SUCCESS");
    c1 = await loginAs(ts, u);
    c2 = await other.client();
    assert.equal((await c2.login(u.username, PASSWORD)).response_type, "SUCCESS");
  });
  after(async () => {
    await other?.stop();
    await ts?.stop();
  });

  const seen = async (c: RpcClient) => (await c.call<{ id: number; access: string }[]>("fleet.system.query")).map((s) => `${s.id}:${s.access}`).sort();
  const both = (access: string) => [`${gone}:READ_WRITE`, `${keep}:${access}`].sort();

  /**
   * Run `check` on the user's connection in each process. The process that made the change must
   * pass on its very next call. The other one learns of it by PostgreSQL's NOTIFY, sent at commit
   * (docs/security/fleet-stale-access-after-revoke.md, "Limit"): a call that reaches it before the
   * notification does is concurrent with the change, so there the check is repeated within
   * NOTIFY_WINDOW_MS (onceNotified) — a process that never hears of the change, or only on a periodic sweep,
   * still fails. SQLite's other process reads `data_version` on its very next call: no window.
   */
  async function inEachProcess(madeIn: "this" | "other" | "both", check: (c: RpcClient) => Promise<void>): Promise<void> {
    for (const [c, here] of [
      [c1, "this"],
      [c2, "other"],
    ] as const) {
      if (store === "postgres" && madeIn !== here) await onceNotified(() => check(c));
      else await check(c);
    }
  }

  /** Both processes answer as if `gone` were invisible to the user (the change made in `madeIn`). */
  async function refusedEverywhere(madeIn: "this" | "other", keepAccess = "READ_WRITE"): Promise<void> {
    await inEachProcess(madeIn, async (c) => {
      assert.deepEqual(await seen(c), [`${keep}:${keepAccess}`]);
      assert.deepEqual((await rpcError(c.call("fleet.system.get_instance", gone))).codes, ["fleet.system_not_found"]);
      assert.deepEqual((await rpcError(c.call("fleet.access.explain", u.id, gone))).codes, ["fleet.system_not_found"]);
    });
  }

  /** Both processes hold an index that grants `gone` (after a change made in `madeIn`). */
  async function warm(madeIn: "this" | "other" = "this"): Promise<void> {
    await inEachProcess(madeIn, async (c) => {
      assert.deepEqual(await seen(c), both("READ_WRITE"));
      assert.equal((await c.call<{ access: string }>("fleet.access.explain", u.id, gone)).access, "READ_WRITE");
    });
  }

  it("a team and a group renamed (tables access does not depend on) are named anew in the next explanation in both processes", async () => {
    await warm();
    const teamName = randomName("team");
    const groupName = randomName("grp");
    await a1.call("team.update", team, { name: teamName });
    await a2.call("fleet.system_group.update", group, { name: groupName });
    await inEachProcess("both", async (c) => {
      const ex = await c.call<{ decided_by: { owner_name: string; target_name: string } }>("fleet.access.explain", u.id, gone);
      assert.deepEqual([ex.decided_by.owner_name, ex.decided_by.target_name], [teamName, groupName]);
    });
  });

  it("a team membership removed through this process", async () => {
    await warm();
    await a1.call("team.update", team, { members: [] });
    await refusedEverywhere("this");
    await a2.call("team.update", team, { members: [u.id] });
    await warm("other");
  });

  it("a system taken out of the team's group through the other process", async () => {
    await warm();
    await a2.call("fleet.system_group.update", group, { systems: [] });
    await refusedEverywhere("other");
    await a1.call("fleet.system_group.update", group, { systems: [gone] });
    await warm("this");
  });

  it("the team's grant deleted and the user's own grant lowered by plain statements (as the CLI or an operator would)", async () => {
    await warm();
    const db = ts.app.store.db;
    await db.deleteFrom("fleet_access").where("owner_kind", "=", "TEAM").where("owner_id", "=", team).execute();
    await db.updateTable("fleet_access").set({ access: "READ" }).where("owner_kind", "=", "USER").where("owner_id", "=", u.id).execute();
    await refusedEverywhere("this", "READ");
  });
});
