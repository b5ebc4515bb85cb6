// Threat: getting a write through the fleet proxy with READ access, or reaching a system one has
// no access to (docs/security/fleet-proxy-bypass.md). A READ user calls write methods under many
// name shapes (case, spaces, NUL, look-alike letters, wrapped in core.bulk or a nested fleet.call),
// a user calls a system it cannot see, parameters are oversized, and a thousand calls run in
// parallel — none reaches the system (its user list and audit log are unchanged), and the pool
// stays bounded.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { clientWithRoles, rpcError, startServer, uniq, type TestServer } from "../harness.js";
import { startManagedSystem, type ManagedSystem } from "../fleet-helpers.js";
import { fleetRuntime } from "../../src/fleet/runtime.js";
import { MAX_CONNECTIONS } from "../../src/fleet/connection-pool.js";
import type { RpcClient } from "../../src/cli/client.js";

let sys: ManagedSystem;
let ts: TestServer;
let admin: RpcClient;
let systemId: number;
let reader: Awaited<ReturnType<typeof clientWithRoles>>;

before(async () => {
  sys = await startManagedSystem();
  ts = await startServer();
  admin = await ts.adminClient();
  systemId = (await admin.call("fleet.system.create", { name: uniq("nas"), url: sys.proc.url, api_key: sys.apiKey })).id;
  reader = await clientWithRoles(ts, ["ACCOUNT_READ"]);
  await ts.app.store.db.insertInto("fleet_access").values({ owner_kind: "USER", owner_id: reader.userId, target_kind: "SYSTEM", target_id: systemId, access: "READ" }).execute();
});

after(async () => {
  await ts?.stop();
  await sys?.proc.stop();
  if (sys) rmSync(sys.dataDir, { recursive: true, force: true });
});

/** The system's users and its METHOD_CALL audit entries for user.create/delete/update (what a write would leave). */
async function systemState(): Promise<{ users: number; writes: number }> {
  const users = await sys.admin.call("user.query", [], { count: true });
  const audit = await sys.admin.call("audit.query", {
    services: ["MIDDLEWARE"],
    "query-filters": [
      ["event", "=", "METHOD_CALL"],
      ["event_data.method", "in", ["user.create", "user.update", "user.delete", "core.bulk", "fleet.call"]],
    ],
    "query-options": { count: true },
  });
  return { users, writes: audit };
}

const newUser = () => ({ username: uniq("x"), full_name: "x", password: "Bypass-pass-123", group_create: true, smb: false });

test("READ: write methods under every name shape are refused with EACCES before anything is sent", async () => {
  const before = await systemState();
  const shapes: [string, unknown[]][] = [
    ["user.create", [newUser()]],
    ["USER.CREATE", [newUser()]],
    ["User.Create", [newUser()]],
    [" user.create", [newUser()]],
    ["user.create ", [newUser()]],
    ["user.create\u0000", [newUser()]],
    ["user.create\n", [newUser()]],
    ["user..create", [newUser()]],
    ["user.\u0441reate", [newUser()]], // Cyrillic es
    ["user.create.query", [newUser()]],
    ["user.query.create", [newUser()]],
    ["user.create_choices", [newUser()]],
    ["user.delete", [1]],
    ["user.update", [1, { full_name: "owned" }]],
    ["core.bulk", ["user.create", [[newUser()]]]],
    ["core.bulk", ["user.query", [[]]]],
    ["fleet.call", [systemId, "user.create", [newUser()]]],
    ["api_key.create", [{ name: "k", username: "admin" }]],
    ["privilege.update", [1, { roles: ["FULL_ADMIN"] }]],
    ["auth.set_attribute", ["a", 1]],
    ["user.set_password", [{ username: "admin", new_password: "Bypass-pass-123" }]],
  ];
  for (const [method, params] of shapes) {
    const err = await rpcError(reader.client.call("fleet.call", systemId, method, params));
    assert.equal(err.errname, "EACCES", `${JSON.stringify(method)}: ${err.message}`);
    assert.equal(err.errorCode, "fleet.call_forbidden", JSON.stringify(method));
  }
  assert.deepEqual(await systemState(), before, "a refused write reached the system");
});

test("a system the caller cannot see answers exactly like one that does not exist", async () => {
  const hiddenId = (await admin.call("fleet.system.create", { name: uniq("hid"), url: sys.proc.url, api_key: sys.apiKey })).id;
  const hidden = await rpcError(reader.client.call("fleet.call", hiddenId, "user.query", []));
  const missing = await rpcError(reader.client.call("fleet.call", 987654, "user.query", []));
  assert.deepEqual(hidden.codes, ["fleet.system_not_found"]);
  assert.deepEqual(missing.codes, ["fleet.system_not_found"]);
  assert.equal(hidden.message.replace(String(hiddenId), "N"), missing.message.replace("987654", "N"));
  for (const id of [hiddenId, 987654]) {
    assert.deepEqual((await rpcError(reader.client.call("fleet.system.status", id))).codes, ["fleet.system_not_found"]);
    assert.deepEqual((await rpcError(reader.client.call("fleet.system.get_instance", id))).codes, ["fleet.system_not_found"]);
  }
  // A user with no fleet access at all cannot reach any.
  const stranger = await clientWithRoles(ts, ["ACCOUNT_READ"]);
  assert.deepEqual((await rpcError(stranger.client.call("fleet.call", systemId, "user.query", []))).codes, ["fleet.system_not_found"]);
});

test("oversized parameters are refused before sending (also for READ_WRITE)", async () => {
  const before = await systemState();
  const big = { ...newUser(), full_name: "y".repeat(61 * 1024) };
  const err = await rpcError(admin.call("fleet.call", systemId, "user.create", [big]));
  assert.equal(err.errorCode, "fleet.call_params_too_large");
  const deep = await rpcError(admin.call("fleet.call", systemId, "user.query", [JSON.parse(`${"[".repeat(200)}${"]".repeat(200)}`)]));
  assert.ok(["core.params_too_deep", "fleet.call_params_too_large", "core.invalid_argument"].includes(deep.errorCode!), deep.message);
  assert.deepEqual(await systemState(), before);
});

test("a thousand parallel calls: reads all answered, writes all refused, the pool stays bounded", async () => {
  const before = await systemState();
  const clients = await Promise.all(
    Array.from({ length: 50 }, async () => {
      const c = await ts.client();
      await c.login(reader.username, "Test-pass-1234");
      return c;
    }),
  );
  const calls: Promise<string>[] = [];
  for (let i = 0; i < 1000; i++) {
    const c = clients[i % clients.length]!;
    const write = i % 2 === 1;
    const p = write ? c.call("fleet.call", systemId, "user.create", [newUser()]) : c.call("fleet.call", systemId, "user.query", [[["username", "=", "admin"]], { count: true }]);
    calls.push(
      p.then(
        (r) => (write ? "WRITE PASSED" : r === 1 ? "read" : `odd ${JSON.stringify(r)}`),
        (e) => (write && e.data?.code === "fleet.call_forbidden" ? "refused" : `error ${e.data?.code ?? e.message}`),
      ),
    );
  }
  const results = await Promise.all(calls);
  const tally: Record<string, number> = {};
  for (const r of results) tally[r] = (tally[r] ?? 0) + 1;
  assert.deepEqual(tally, { read: 500, refused: 500 });
  assert.ok(fleetRuntime(ts.app).pool.size <= MAX_CONNECTIONS * 2, `pool size ${fleetRuntime(ts.app).pool.size}`);
  assert.deepEqual(await systemState(), before);
  await Promise.all(clients.map((c) => c.close()));
});

test("a thousand parallel calls to a dead system fail fast with its reason (one connection attempt per back-off)", async () => {
  const dead = await admin.call("fleet.system.create", { name: uniq("dead"), url: "ws://127.0.0.1:9/api/current", api_key: "1-x", force: true });
  const clients = await Promise.all(Array.from({ length: 50 }, () => ts.adminClient()));
  const t0 = Date.now();
  const codes = await Promise.all(
    Array.from({ length: 1000 }, (_, i) =>
      clients[i % 50]!.call("fleet.call", dead.id, "core.ping", []).then(
        () => "ok",
        (e) => e.data?.code,
      ),
    ),
  );
  assert.ok(
    codes.every((c) => c === "fleet.system_unreachable"),
    [...new Set(codes)].join(","),
  );
  assert.ok(Date.now() - t0 < 20_000, `took ${Date.now() - t0} ms`);
  // The manager still answers.
  assert.equal(await admin.call("core.ping"), "pong");
});

test("with every cache warm (the proxy's common path, sent without an await), READ still refuses writes and a lowered grant applies on the next call", async () => {
  const before = await systemState();
  const query = () => reader.client.call("fleet.call", systemId, "user.query", [[["username", "=", "admin"]], { select: ["username"] }]);
  for (let i = 0; i < 5; i++) assert.deepEqual(await query(), [{ username: "admin" }]);
  const refused = await rpcError(reader.client.call("fleet.call", systemId, "user.create", [newUser()]));
  assert.equal(refused.errorCode, "fleet.call_forbidden");
  assert.deepEqual(await systemState(), before, "a write reached the system after the caches were warm");

  // READ_WRITE now: the write goes through; back to none: the system disappears on the very next call.
  const grant = ts.app.store.db.updateTable("fleet_access").where("owner_kind", "=", "USER").where("owner_id", "=", reader.userId).where("target_id", "=", systemId);
  await grant.set({ access: "READ_WRITE" }).execute();
  for (let i = 0; i < 3; i++) await query();
  const user = newUser();
  await reader.client.call("fleet.call", systemId, "user.create", [user]);
  await ts.app.store.db.deleteFrom("fleet_access").where("owner_kind", "=", "USER").where("owner_id", "=", reader.userId).where("target_id", "=", systemId).execute();
  assert.deepEqual((await rpcError(query())).codes, ["fleet.system_not_found"]);
  await ts.app.store.db.insertInto("fleet_access").values({ owner_kind: "USER", owner_id: reader.userId, target_kind: "SYSTEM", target_id: systemId, access: "READ" }).execute();
  await sys.admin.call("user.delete", (await sys.admin.call("user.query", [["username", "=", user.username]], { get: true })).id, {});

  // The entries of warm calls read exactly like the first call's (same description, access, outcome).
  const entries: { event_data: { description: string; authorized: boolean; params: unknown[] }; success: boolean }[] = await admin.call("audit.query", {
    services: ["MIDDLEWARE"],
    "query-filters": [
      ["username", "=", reader.username],
      ["event_data.method", "=", "fleet.call"],
    ],
    "query-options": { limit: 5000 },
  });
  const systemName = (await admin.call("fleet.system.get_instance", systemId)).name;
  const reads = entries.filter((e) => e.event_data.description === `Fleet call user.query on system ${systemName} with READ access`);
  assert.ok(reads.length >= 5, `READ query entries: ${reads.length}`);
  for (const e of reads) {
    assert.deepEqual(e.event_data.params, [systemId, "user.query", "********"]);
    assert.equal(e.event_data.authorized, true);
    assert.equal(e.success, true);
  }
  assert.ok(
    entries.some((e) => e.event_data.description.endsWith("with READ_WRITE access") && e.success),
    JSON.stringify(entries.map((e) => [e.event_data.description, e.success])),
  );
});
