// Audit labels name the account a call acted on by the name it has in the store when the call
// runs — read by the handler (ctx.auditSubject), never from a per-process id→name map that a
// rename through another server process sharing the store makes stale (issue 10, point 4).
// Real `gatehouse serve` processes on one PostgreSQL; and in process on both stores.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { forEachStore, rpcError, startServer, uniq, type TestServer } from "./harness.js";
import { startServerProcess, type ServerProcess } from "./process-harness.js";
import type { RpcClient } from "../src/cli/client.js";

const PW = "Label-pass-1234";

/** METHOD_CALL descriptions of `method` calls on account `id`, oldest first, as [description, success]. */
async function labels(c: RpcClient, method: string, id: number): Promise<[string, boolean][]> {
  const rows = await c.call<any[]>("audit.query", {
    "query-filters": [
      ["event", "=", "METHOD_CALL"],
      ["event_data.method", "=", method],
      ["event_data.params.0", "=", id],
    ],
    "query-options": { limit: 100, order_by: ["timestamp"] },
  });
  return rows.map((r) => [r.event_data.description, r.success]);
}

describe("audit labels across real server processes [postgres]", { skip: !process.env.GATEHOUSE_TEST_PG && "GATEHOUSE_TEST_PG is not set" }, () => {
  let one: ServerProcess;
  let two: ServerProcess;
  let a: RpcClient;
  let b: RpcClient;
  before(async () => {
    one = await startServerProcess({ store: "postgres" });
    two = await startServerProcess({ databaseUrl: one.databaseUrl });
    a = await one.adminClient();
    b = await two.adminClient();
  });
  after(async () => {
    await two?.stop();
    await one?.stop();
  });

  it("a user renamed through another process is named by its current name in updates and its delete", async () => {
    const first = uniq("lab");
    const u = await a.call<any>("user.create", { username: first, full_name: "L", password: PW, group_create: true, smb: false });
    await a.call("user.update", u.id, { full_name: "seen by A" }); // A has read the first name
    const second = uniq("lab");
    await b.call("user.update", u.id, { username: second });
    await a.call("user.update", u.id, { full_name: "after the rename" });
    await rpcError(a.call("user.update", u.id, { email: "not an address" })); // refused: still named
    const third = uniq("lab");
    await b.call("user.update", u.id, { username: third });
    await a.call("user.delete", u.id);
    assert.deepEqual(await labels(a, "user.update", u.id), [
      [`Update user ${first}`, true],
      [`Update user ${first}`, true], // B's rename names the user it renamed
      [`Update user ${second}`, true],
      [`Update user ${second}`, false],
      [`Update user ${second}`, true],
    ]);
    assert.deepEqual(await labels(a, "user.delete", u.id), [[`Delete user ${third}`, true]]);
  });

  it("a group renamed through another process is named by its current name in updates and its delete", async () => {
    const first = uniq("labg");
    const id = await a.call<number>("group.create", { name: first, smb: false });
    await a.call("group.update", id, { smb: false });
    const second = uniq("labg");
    await b.call("group.update", id, { name: second });
    await a.call("group.update", id, { smb: false });
    await a.call("group.delete", id);
    assert.deepEqual(await labels(a, "group.update", id), [
      [`Update group ${first}`, true],
      [`Update group ${first}`, true],
      [`Update group ${second}`, true],
    ]);
    assert.deepEqual(await labels(a, "group.delete", id), [[`Delete group ${second}`, true]]);
  });
});

forEachStore("audit labels in process", (store) => {
  let ts: TestServer;
  let a: RpcClient;
  before(async () => {
    ts = await startServer({ store });
    a = await ts.adminClient();
  });
  after(() => ts.stop());

  it("a refused update or delete names the account; an unknown id is named by its id", async () => {
    const name = uniq("labr");
    const u = await a.call<any>("user.create", { username: name, full_name: "L", password: PW, group_create: true, smb: false });
    await rpcError(a.call("user.update", u.id, { email: "not an address" }));
    await rpcError(a.call("user.update", 99_999_999, { full_name: "x" }));
    assert.deepEqual(await labels(a, "user.update", u.id), [[`Update user ${name}`, false]]);
    assert.deepEqual(await labels(a, "user.update", 99_999_999), [["Update user 99999999", false]]);
    await a.call("user.delete", u.id);
    assert.deepEqual(await labels(a, "user.delete", u.id), [[`Delete user ${name}`, true]]);
  });

  it("privileges and API keys are named as they were in the store when the call ran", async () => {
    const name = uniq("labp");
    const p = await a.call<any>("privilege.create", { name, local_groups: [], ds_groups: [], roles: ["READONLY_ADMIN"], web_shell: false });
    const renamed = uniq("labp");
    await a.call("privilege.update", p.id, { name: renamed });
    await a.call("privilege.update", p.id, { web_shell: false });
    await a.call("privilege.delete", p.id);
    assert.deepEqual(await labels(a, "privilege.update", p.id), [
      [`Update privilege ${name} (renamed ${renamed})`, true],
      [`Update privilege ${renamed}`, true],
    ]);
    assert.deepEqual(await labels(a, "privilege.delete", p.id), [[`Delete privilege ${renamed}`, true]]);

    const me = await a.call<any>("auth.me");
    const key = await a.call<any>("api_key.create", { name: uniq("labk"), username: me.pw_name });
    await a.call("api_key.revoke", key.id, "test");
    await a.call("api_key.delete", key.id);
    assert.deepEqual(await labels(a, "api_key.revoke", key.id), [[`Revoke API key ${key.name}`, true]]);
    assert.deepEqual(await labels(a, "api_key.delete", key.id), [[`Delete API key ${key.name}`, true]]);
  });
});
