// The fleet proxy (issue 11 point 7) against real Gatehouse processes as managed systems, with the
// manager on each store: READ users may query but every write method answers EACCES before it is
// sent (the system's audit log shows nothing); READ callers go through the read-only key;
// READ_WRITE users create a user on the system; removing a user from a team takes effect on the
// next call, also through another manager process on the same PostgreSQL; the system's errors
// keep their shape with data.system; a stored key that cannot be opened is named as such; a job method becomes a local job mirroring the remote one;
// every proxied call is audited.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { forEachStore, onceNotified, rpcError, startServer, clientWithRoles, uniq, type TestServer } from "./harness.js";
import { startServerProcess } from "./process-harness.js";
import { eventually, startManagedSystem, type ManagedSystem } from "./fleet-helpers.js";
import { neverProxied, readByRoles } from "../src/fleet/remote-methods.js";
import { fleetRuntime } from "../src/fleet/runtime.js";
import { API_KEY_PURPOSE } from "../src/fleet/system-endpoint.js";
import { secretBoxFromKey } from "../src/store/secret-box.js";
import type { RpcClient } from "../src/cli/client.js";

let sysA: ManagedSystem;

before(async () => {
  sysA = await startManagedSystem();
});
after(async () => {
  await sysA?.proc.stop();
  if (sysA) rmSync(sysA.dataDir, { recursive: true, force: true });
});

type Access = "READ" | "READ_WRITE";

async function grantUser(ts: TestServer, userId: number, systemId: number, access: Access): Promise<void> {
  await ts.app.store.db.insertInto("fleet_access").values({ owner_kind: "USER", owner_id: userId, target_kind: "SYSTEM", target_id: systemId, access }).execute();
}

/** A team holding `access` to the system, with `userId` as its member (straight into the store). */
async function teamGrant(ts: TestServer, userId: number, systemId: number, access: Access): Promise<number> {
  const db = ts.app.store.db;
  const team = await db
    .insertInto("teams")
    .values({ name: uniq("team") })
    .returning("id")
    .executeTakeFirstOrThrow();
  await db.insertInto("team_members").values({ team_id: team.id, user_id: userId }).execute();
  await db.insertInto("fleet_access").values({ owner_kind: "TEAM", owner_id: team.id, target_kind: "SYSTEM", target_id: systemId, access }).execute();
  return team.id;
}

/** METHOD_CALL entries on the managed system since `sinceMs` for these methods. */
async function remoteCalls(sys: ManagedSystem, methods: Set<string>, sinceMs: number): Promise<string[]> {
  const rows = await sys.admin.call("audit.query", {
    services: ["MIDDLEWARE"],
    "query-filters": [
      ["event", "=", "METHOD_CALL"],
      ["message_timestamp", ">=", Math.floor(sinceMs / 1000)],
    ],
    "query-options": { limit: 10000 },
  });
  return rows.map((r: { event_data: { method: string } }) => r.event_data.method).filter((m: string) => methods.has(m));
}

forEachStore("fleet proxy", (store) => {
  let ts: TestServer;
  let admin: RpcClient;
  let systemId: number;
  let systemName: string;

  before(async () => {
    ts = await startServer({ store });
    admin = await ts.adminClient();
    const sys = await admin.call("fleet.system.create", { name: uniq("nas"), url: sysA.proc.url, api_key: sysA.apiKey, read_api_key: sysA.readKey });
    systemId = sys.id;
    systemName = sys.name;
  });
  after(async () => ts?.stop());

  test("READ: read methods pass; every write method of the system answers EACCES before it is sent (its audit log shows nothing)", async () => {
    const u = await clientWithRoles(ts, ["ACCOUNT_READ"]);
    await grantUser(ts, u.userId, systemId, "READ");
    const users = await u.client.call("fleet.call", systemId, "user.query", [[["username", "=", "admin"]]]);
    assert.equal(users[0].username, "admin");
    const methods: Record<string, { roles: string[] }> = await sysA.admin.call("core.get_methods");
    const writes = Object.keys(methods).filter((m) => !readByRoles(m, methods[m]!) && !neverProxied(m));
    assert.ok(writes.includes("user.create") && writes.includes("user.delete") && writes.includes("core.bulk") && writes.includes("api_key.create"));
    // What the system's audit log holds of these methods already (the test's own set-up made keys there).
    const before = await remoteCalls(sysA, new Set(writes), 0);
    for (const m of writes) {
      const err = await rpcError(u.client.call("fleet.call", systemId, m, [{}]));
      assert.equal(err.errname, "EACCES", `${m}: ${err.message}`);
      assert.equal(err.errorCode, "fleet.call_forbidden", m);
      assert.deepEqual((err.data as { system?: unknown } | undefined)?.system, { id: systemId, name: systemName });
    }
    assert.deepEqual(await remoteCalls(sysA, new Set(writes), 0), before, "a refused write reached the system");
    // The read-only key carried the READ call: the system applies its own secret rules to it.
    const [viaRead] = await u.client.call("fleet.call", systemId, "user.query", [[["username", "=", "admin"]]]);
    const [viaAdmin] = await admin.call("fleet.call", systemId, "user.query", [[["username", "=", "admin"]]]);
    assert.equal(viaRead.unixhash, "********");
    assert.notEqual(viaAdmin.unixhash, "********");
    const refused = await rpcError(u.client.call("fleet.call", systemId, "user.query", [[], { select: ["username", "unixhash"] }]));
    assert.equal(refused.errorCode, "core.secret_field_forbidden");
    assert.equal((refused.data as any).system.id, systemId);
  });

  test("READ_WRITE creates a user on the system; the system's errors keep their shape with data.system", async () => {
    const u = await clientWithRoles(ts, ["ACCOUNT_READ"]);
    await grantUser(ts, u.userId, systemId, "READ_WRITE");
    const name = uniq("remote");
    const created = await u.client.call("fleet.call", systemId, "user.create", [{ username: name, full_name: name, password: "Remote-pass-123", group_create: true, smb: false }]);
    assert.equal(created.username, name);
    const there = await sysA.admin.call("user.query", [["username", "=", name]]);
    assert.equal(there.length, 1);
    const err = await rpcError(u.client.call("fleet.call", systemId, "user.create", [{ username: name, full_name: name, password: "Remote-pass-123", group_create: true, smb: false }]));
    assert.equal(err.code, -32602);
    assert.equal(err.rpcMessage, "Invalid params");
    assert.ok(err.extra.length >= 1);
    assert.equal((err.data as any).system.id, systemId);
    assert.ok(Array.isArray(err.codes) && err.codes.length === err.extra.length);
    // The password never reaches the manager's audit log; the call is audited with system, method and access.
    // (Entries are journaled before sending and folded into the table a few ms later; the outcome
    // is recorded after the answer: fold now.)
    await fleetRuntime(ts.app).audit.flush();
    const audit = await ts.app.store.db.selectFrom("audit").select(["event_data", "success"]).where("event", "=", "METHOD_CALL").execute();
    const mine = audit.filter((a) => a.event_data.includes(`user.create on system ${systemName} with READ_WRITE access`));
    assert.equal(mine.length, 2);
    assert.deepEqual(mine.map((a) => Number(a.success)).sort(), [0, 1]);
    // Both answered: each entry has its outcome once folded.
    assert.ok(!mine.some((a) => a.event_data.includes('"answered":false')));
    assert.ok(!audit.some((a) => a.event_data.includes("Remote-pass-123")));
  });

  test("a system the caller may not see does not exist; session methods are never forwarded", async () => {
    const u = await clientWithRoles(ts, ["ACCOUNT_READ"]);
    const hidden = await rpcError(u.client.call("fleet.call", systemId, "user.query", []));
    assert.deepEqual(hidden.codes, ["fleet.system_not_found"]);
    const missing = await rpcError(admin.call("fleet.call", 999999, "user.query", []));
    assert.deepEqual(missing.codes, ["fleet.system_not_found"]);
    for (const m of ["auth.logout", "auth.login_ex", "core.set_options", "core.subscribe"]) {
      const err = await rpcError(admin.call("fleet.call", systemId, m, []));
      assert.equal(err.errorCode, "fleet.method_not_proxied", m);
    }
    // The pooled session survived: calls still work.
    assert.equal(await admin.call("fleet.call", systemId, "core.ping", []), "pong");
  });

  test("a job method becomes a local job mirroring the remote one (remote job id in progress.extra)", async () => {
    const legacy = await admin.call("fleet.call", systemId, "core.bulk", ["core.ping", [[], []]]);
    assert.equal(typeof legacy, "number", "legacy_jobs: the local job id");
    const jobs = await eventually(
      async () => {
        const j = await admin.call("core.get_jobs", [["id", "=", legacy]]);
        return j[0]?.state === "SUCCESS" ? j : null;
      },
      10_000,
      "the local job to finish",
    );
    assert.equal(jobs[0].method, "fleet.call");
    assert.equal(jobs[0].state, "SUCCESS");
    assert.equal(typeof jobs[0].progress.extra.remote_job_id, "number");
    assert.deepEqual(jobs[0].progress.extra.system, { id: systemId, name: systemName });
    assert.deepEqual(
      jobs[0].result.map((r: { result: unknown }) => r.result),
      ["pong", "pong"],
    );
    const c = await ts.client();
    await c.login("admin", "Adm1n-pass-word");
    await c.call("core.set_options", { legacy_jobs: false });
    const direct = await c.call("fleet.call", systemId, "core.bulk", ["core.ping", [[]]]);
    assert.deepEqual(
      direct.map((r: { result: unknown }) => r.result),
      ["pong"],
    );
  });

  test("removing a user from a team takes effect on the next call (and in another manager process on the same store)", async () => {
    const u = await clientWithRoles(ts, ["ACCOUNT_READ"]);
    const teamId = await teamGrant(ts, u.userId, systemId, "READ_WRITE");
    assert.equal(await u.client.call("fleet.call", systemId, "core.ping", []), "pong");
    let other: Awaited<ReturnType<typeof startServerProcess>> | null = null;
    let otherClient: RpcClient | null = null;
    if (store === "postgres") {
      other = await startServerProcess({ databaseUrl: ts.config.database! });
      otherClient = await other.client();
      const r = await otherClient.login(u.username, "Test-pass-1234");
      assert.equal(r.response_type, "SUCCESS");
      assert.equal(await otherClient.call("fleet.call", systemId, "core.ping", []), "pong");
    }
    try {
      await ts.app.store.db.deleteFrom("team_members").where("team_id", "=", teamId).where("user_id", "=", u.userId).execute();
      assert.deepEqual((await rpcError(u.client.call("fleet.call", systemId, "core.ping", []))).codes, ["fleet.system_not_found"]);
      // The other process hears of the commit by its notification (test/harness.ts onceNotified).
      const o = otherClient;
      if (o) await onceNotified(async () => assert.deepEqual((await rpcError(o.call("fleet.call", systemId, "core.ping", []))).codes, ["fleet.system_not_found"]));
    } finally {
      await other?.stop();
    }
  });

  test("oversized parameters are refused before sending; a slow or dead system answers with its reason", async () => {
    const big = "x".repeat(61 * 1024);
    const err = await rpcError(admin.call("fleet.call", systemId, "user.query", [[["username", "=", big]]]));
    assert.ok(["fleet.call_params_too_large"].includes(err.errorCode!) || err.message.includes("Max message"), err.message);
    const dead = await admin.call("fleet.system.create", { name: uniq("dead"), url: "ws://127.0.0.1:9/api/current", api_key: "1-x", force: true });
    const down = await rpcError(admin.call("fleet.call", dead.id, "core.ping", []));
    assert.equal(down.errorCode, "fleet.system_unreachable");
    assert.deepEqual((down.data as any).system, { id: dead.id, name: dead.name });
  });

  test("a stored key that cannot be opened (another store key, damaged) answers fleet.system_key_unreadable naming the system; the status says so", async () => {
    const sys = await admin.call("fleet.system.create", { name: uniq("sealed"), url: sysA.proc.url, api_key: sysA.apiKey });
    const setKey = (api_key: string) => ts.app.store.db.updateTable("fleet_systems").set({ api_key }).where("id", "=", sys.id).execute();
    const anotherBox = secretBoxFromKey(randomBytes(32));
    for (const stored of [anotherBox.seal(API_KEY_PURPOSE, sysA.apiKey), "not-sealed-at-all"]) {
      await setKey(stored);
      const err = await rpcError(admin.call("fleet.call", sys.id, "core.ping", []));
      assert.equal(err.errorCode, "fleet.system_key_unreadable", err.message);
      assert.equal(err.errname, "EIO");
      assert.match(err.message, /stored credential cannot be opened/);
      assert.deepEqual((err.data as any).system, { id: sys.id, name: sys.name });
      const status = await admin.call("fleet.system.status", sys.id);
      assert.equal(status.reachable, false);
      assert.equal(status.error_code, "fleet.system_key_unreadable");
      assert.match(status.error, /stored credential cannot be opened/);
      assert.doesNotMatch(status.error, /not a sealed value/);
    }
    // Setting the key again mends it.
    await admin.call("fleet.system.update", sys.id, { api_key: sysA.apiKey });
    assert.equal(await admin.call("fleet.call", sys.id, "core.ping", []), "pong");
    await admin.call("fleet.system.delete", sys.id);
  });
});
