// Fleet systems (issue 11 point 2): three real Gatehouse processes on loopback are the managed
// systems (each with its own data dir and API keys made on it; one serves TLS with a certificate
// from a CA made here), and the manager runs on each store. Adding, status, a system going down
// and coming back, a wrong key, TLS with verification (custom CA) and without, the URL rule,
// keys sealed at rest, deletion taking the grants, and visibility of systems and their events.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { forEachStore, rpcError, startServer, clientWithRoles, uniq, type TestServer } from "./harness.js";
import { eventually, makeTestCa, restartManagedSystem, startManagedSystem, tempDir, type ManagedSystem, type TestCa } from "./fleet-helpers.js";
import type { RpcClient } from "../src/cli/client.js";

let tmp: { dir: string; cleanup: () => void };
let ca: TestCa;
let sysA: ManagedSystem;
let sysB: ManagedSystem;
let sysTls: ManagedSystem;

before(async () => {
  tmp = tempDir("gh-fleet-sys-");
  ca = makeTestCa(tmp.dir);
  // One after the other: three processes compiling the sources at once can miss the start budget on a loaded machine.
  sysA = await startManagedSystem();
  sysB = await startManagedSystem();
  sysTls = await startManagedSystem({ tls: { cert: ca.certFile, key: ca.keyFile } });
});

after(async () => {
  await Promise.all([sysA, sysB, sysTls].map((s) => s?.proc.stop()));
  const { rmSync } = await import("node:fs");
  for (const s of [sysA, sysB, sysTls]) if (s) rmSync(s.dataDir, { recursive: true, force: true });
  tmp?.cleanup();
});

/** A grant straight into the store (teams and grants are fleet-access methods, tested apart). */
async function grant(ts: TestServer, userId: number, systemId: number, access: "READ" | "READ_WRITE"): Promise<void> {
  await ts.app.store.db.insertInto("fleet_access").values({ owner_kind: "USER", owner_id: userId, target_kind: "SYSTEM", target_id: systemId, access }).execute();
}

/** The CA registered on the manager (once per manager: a certificate is registered only once). */
const registered = new Map<RpcClient, Promise<number>>();
function registerCa(admin: RpcClient, pem: string): Promise<number> {
  let id = registered.get(admin);
  if (!id) registered.set(admin, (id = admin.call("certificateauthority.import", { name: uniq("ca"), certificate: pem }).then((r) => r.id)));
  return id;
}

forEachStore("fleet systems", (store) => {
  let ts: TestServer;
  let admin: RpcClient;

  before(async () => {
    ts = await startServer({ store });
    admin = await ts.adminClient();
  });
  after(async () => ts?.stop());

  test("add a system: the connection is tested, the key sealed at rest and never returned; status gives version and latency", async () => {
    const sys = await admin.call("fleet.system.create", { name: uniq("nas"), url: sysA.proc.url, api_key: sysA.apiKey });
    assert.equal(sys.api_key, "********");
    assert.equal(sys.read_api_key, null);
    assert.equal(sys.verify_ssl, true);
    assert.equal(sys.status.reachable, true);
    assert.match(sys.status.version, /^Gatehouse-/);
    const row = await ts.app.store.db.selectFrom("fleet_systems").select("api_key").where("id", "=", sys.id).executeTakeFirstOrThrow();
    assert.ok(row.api_key.startsWith("gh-sb1:"), "sealed envelope");
    assert.ok(!row.api_key.includes(sysA.apiKey.split("-")[1]!), "the key is not stored in clear");
    const status = await admin.call("fleet.system.status", sys.id);
    assert.equal(status.reachable, true);
    assert.equal(typeof status.latency_ms, "number");
    assert.equal(status.error, null);
    const [listed] = await admin.call("fleet.system.query", [["id", "=", sys.id]]);
    assert.equal(listed.api_key, "********");
    assert.equal(listed.access, "READ_WRITE");
    // The key does not leak through the audit log either.
    const audit = await ts.app.store.db.selectFrom("audit").select("event_data").where("event", "=", "METHOD_CALL").execute();
    assert.ok(audit.some((a) => a.event_data.includes("fleet.system.create")));
    assert.ok(!audit.some((a) => a.event_data.includes(sysA.apiKey)), "api key in the audit log");
  });

  test("a wrong key is a validation error naming the reason (fleet.system_key_refused); with force it is saved and its status says key refused", async () => {
    const bad = `${sysA.apiKey.split("-")[0]}-${"x".repeat(64)}`;
    const err = await rpcError(admin.call("fleet.system.create", { name: uniq("nas"), url: sysA.proc.url, api_key: bad }));
    assert.equal(err.code, -32602);
    assert.deepEqual(err.codes, ["fleet.system_key_refused"]);
    assert.equal(err.extra[0]![0], "fleet_system_create.api_key");
    assert.match(err.extra[0]![1], /key refused/);
    const forced = await admin.call("fleet.system.create", { name: uniq("nas"), url: sysA.proc.url, api_key: bad, force: true });
    const status = await admin.call("fleet.system.status", forced.id);
    assert.equal(status.reachable, false);
    assert.equal(status.error_code, "fleet.system_key_refused");
    assert.match(status.error, /key refused/);
    // Replacing the key makes it reachable.
    const fixed = await admin.call("fleet.system.update", forced.id, { api_key: sysA.apiKey });
    assert.equal(fixed.status.reachable, true);
  });

  test("unreachable systems and bad URLs are refused with stable codes; plain ws:// only to loopback", async () => {
    const down = await rpcError(admin.call("fleet.system.create", { name: uniq("nas"), url: "ws://127.0.0.1:9/api/current", api_key: "1-abc" }));
    assert.deepEqual(down.codes, ["fleet.system_unreachable"]);
    assert.equal(down.extra[0]![0], "fleet_system_create.url");
    const insecure = await rpcError(admin.call("fleet.system.create", { name: uniq("nas"), url: "ws://nas.example.com/api/current", api_key: "1-abc", force: true }));
    assert.deepEqual(insecure.codes, ["fleet.system_insecure_url"]);
    const path = await rpcError(admin.call("fleet.system.create", { name: uniq("nas"), url: `${sysA.proc.url.replace("/api/current", "/other")}`, api_key: "1-abc", force: true }));
    assert.deepEqual(path.codes, ["fleet.system_invalid_url"]);
    const http = await rpcError(admin.call("fleet.system.create", { name: uniq("nas"), url: sysA.proc.httpUrl + "/api/current", api_key: "1-abc", force: true }));
    assert.deepEqual(http.codes, ["fleet.system_invalid_url"]);
    const taken = await admin.call("fleet.system.create", { name: uniq("nas"), url: sysA.proc.url, api_key: sysA.apiKey });
    const dup = await rpcError(admin.call("fleet.system.create", { name: taken.name, url: sysA.proc.url, api_key: sysA.apiKey }));
    assert.deepEqual(dup.codes, ["fleet.system_name_taken"]);
  });

  test("TLS: verification on refuses an unknown CA (fleet.system_tls), accepts the registered custom CA; verification off accepts", async () => {
    const url = sysTls.proc.url;
    assert.ok(url.startsWith("wss://"));
    const unknown = await rpcError(admin.call("fleet.system.create", { name: uniq("tls"), url, api_key: sysTls.apiKey }));
    assert.deepEqual(unknown.codes, ["fleet.system_tls"]);
    const caId = await registerCa(admin, ca.caPem);
    const verified = await admin.call("fleet.system.create", { name: uniq("tls"), url, api_key: sysTls.apiKey, ca: caId });
    assert.equal(verified.status.reachable, true);
    assert.equal(verified.ca, caId);
    assert.equal((await admin.call("fleet.system.status", verified.id)).reachable, true);
    const wrongHost = await rpcError(admin.call("fleet.system.create", { name: uniq("tls"), url: url.replace("127.0.0.1", "127.0.0.2"), api_key: sysTls.apiKey, ca: caId }));
    assert.deepEqual(wrongHost.codes.length, 1);
    const unverified = await admin.call("fleet.system.create", { name: uniq("tls"), url, api_key: sysTls.apiKey, verify_ssl: false });
    assert.equal(unverified.status.reachable, true);
    const noCa = await rpcError(admin.call("fleet.system.create", { name: uniq("tls"), url, api_key: sysTls.apiKey, ca: 999999 }));
    assert.deepEqual(noCa.codes, ["fleet.ca_not_found"]);
  });

  test("SCRAM: with the key's owner named, the proxy logs in by SCRAM (bound to the certificate over wss://); a wrong key is refused", async () => {
    const caId = await registerCa(admin, ca.caPem);
    for (const [sys, extra] of [
      [sysA, {}],
      [sysTls, { ca: caId }],
    ] as const) {
      const created = await admin.call("fleet.system.create", { name: uniq("scram"), url: sys.proc.url, api_key: sys.apiKey, username: "admin", ...extra });
      assert.equal(created.username, "admin");
      const me = await admin.call("fleet.call", created.id, "auth.me", []);
      assert.ok(me.account_attributes.includes("SCRAM"), JSON.stringify(me.account_attributes));
    }
    const bad = `${sysA.apiKey.split("-")[0]}-${"y".repeat(64)}`;
    const err = await rpcError(admin.call("fleet.system.create", { name: uniq("scram"), url: sysA.proc.url, api_key: bad, username: "admin" }));
    assert.deepEqual(err.codes, ["fleet.system_key_refused"]);
  });

  test("a system going down and coming back: status follows (poller and explicit checks)", async () => {
    const sys = await admin.call("fleet.system.create", { name: uniq("nas"), url: sysB.proc.url, api_key: sysB.apiKey });
    await sysB.proc.stop();
    const down = await admin.call("fleet.system.status", sys.id);
    assert.equal(down.reachable, false);
    assert.equal(down.error_code, "fleet.system_unreachable");
    sysB = await restartManagedSystem(sysB);
    const up = await eventually(
      async () => {
        const s = await admin.call("fleet.system.status", sys.id);
        return s.reachable ? s : null;
      },
      20_000,
      "the system to be reachable again",
    );
    assert.match(up.version, /^Gatehouse-/);
    // A poller round records the same, and the query shows it.
    const { fleetRuntime } = await import("../src/fleet/runtime.js");
    await fleetRuntime(ts.app).poller.round();
    const [listed] = await admin.call("fleet.system.query", [["id", "=", sys.id]]);
    assert.equal(listed.status.reachable, true);
  });

  test("visibility: a user sees only the systems it has access to, with its access; FLEET_READ sees all; events reach only those who may see the system", async () => {
    const s1 = await admin.call("fleet.system.create", { name: uniq("vis"), url: sysA.proc.url, api_key: sysA.apiKey });
    const s2 = await admin.call("fleet.system.create", { name: uniq("vis"), url: sysA.proc.url, api_key: sysA.apiKey });
    const u = await clientWithRoles(ts, ["ACCOUNT_READ"]);
    assert.deepEqual(await u.client.call("fleet.system.query", [["id", "in", [s1.id, s2.id]]]), []);
    await grant(ts, u.userId, s1.id, "READ");
    const seen = await u.client.call("fleet.system.query", [["id", "in", [s1.id, s2.id]]]);
    assert.deepEqual(
      seen.map((s: { id: number }) => s.id),
      [s1.id],
    );
    assert.equal(seen[0].access, "READ");
    const hidden = await rpcError(u.client.call("fleet.system.get_instance", s2.id));
    assert.deepEqual(hidden.codes, ["fleet.system_not_found"]);
    assert.deepEqual((await rpcError(u.client.call("fleet.system.status", s2.id))).codes, ["fleet.system_not_found"]);
    const reader = await clientWithRoles(ts, ["FLEET_READ"]);
    const all = await reader.client.call("fleet.system.query", [["id", "in", [s1.id, s2.id]]]);
    assert.equal(all.length, 2);
    assert.deepEqual(
      all.map((s: { access: string }) => s.access),
      ["NONE", "NONE"],
    );
    // Events: the user subscribes, the administrator changes both systems.
    await u.client.call("core.subscribe", "fleet.system.query");
    await admin.call("fleet.system.update", s2.id, { name: uniq("vis2") });
    await admin.call("fleet.system.update", s1.id, { name: uniq("vis1") });
    const ev = await u.client.waitFor((n) => n.method === "collection_update" && n.params.collection === "fleet.system.query" && n.params.msg === "changed");
    assert.equal(ev.params.id, s1.id);
    assert.equal(ev.params.fields.access, "READ");
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(!u.client.notifications.some((n) => n.params?.collection === "fleet.system.query" && n.params.id === s2.id), "event of an invisible system delivered");
    // Writes need FLEET_WRITE.
    assert.equal((await rpcError(u.client.call("fleet.system.delete", s1.id))).errname, "EACCES");
    assert.equal((await rpcError(reader.client.call("fleet.system.update", s1.id, { name: uniq("x") }))).errname, "EACCES");
  });

  test("deleting a system removes its grants and group memberships; it is audited", async () => {
    const sys = await admin.call("fleet.system.create", { name: uniq("del"), url: sysA.proc.url, api_key: sysA.apiKey, read_api_key: sysA.readKey });
    assert.equal(sys.read_api_key, "********");
    const u = await clientWithRoles(ts, ["ACCOUNT_READ"]);
    await grant(ts, u.userId, sys.id, "READ_WRITE");
    const db = ts.app.store.db;
    const g = await db
      .insertInto("fleet_system_groups")
      .values({ name: uniq("grp") })
      .returning("id")
      .executeTakeFirstOrThrow();
    await admin.call("fleet.system.update", sys.id, { groups: [g.id] });
    assert.deepEqual((await admin.call("fleet.system.get_instance", sys.id)).groups, [g.id]);
    assert.equal(await admin.call("fleet.system.delete", sys.id), true);
    const grants = await db.selectFrom("fleet_access").select("id").where("target_kind", "=", "SYSTEM").where("target_id", "=", sys.id).execute();
    assert.equal(grants.length, 0);
    const members = await db.selectFrom("fleet_system_group_members").select("system_id").where("system_id", "=", sys.id).execute();
    assert.equal(members.length, 0);
    const audit = await db.selectFrom("audit").select("event_data").where("event", "=", "METHOD_CALL").execute();
    assert.ok(audit.some((a) => a.event_data.includes(`Delete fleet system ${sys.name}`)));
    assert.deepEqual((await rpcError(admin.call("fleet.system.get_instance", sys.id))).codes, ["fleet.system_not_found"]);
  });
});
