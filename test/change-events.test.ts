// Typed change events (issue 10): each commit records one typed event in the `changes` log in its
// own transaction; this process's listeners get it at once, and another server process on the same
// PostgreSQL reads it when the commit's NOTIFY (carrying only the row's sequence number) arrives.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { forEachStore, rpcError, startServer, type TestServer } from "./harness.js";
import { changeOf, decodeChange, MAX_CHANGE_IDS, type ChangeEvent } from "../src/store/change-event.js";
import { commitChange } from "../src/store/changes.js";
import { provisionerOf } from "../src/provision/index.js";
import type { RpcClient } from "../src/cli/client.js";

async function changeRows(ts: TestServer): Promise<ChangeEvent[]> {
  const rows = await ts.app.store.db.selectFrom("changes").select(["seq", "payload"]).orderBy("seq").execute();
  return rows.map((r) => decodeChange(r.payload));
}

forEachStore("typed change events", (store) => {
  let ts: TestServer;
  let admin: RpcClient;
  before(async () => {
    ts = await startServer({ store });
    admin = await ts.adminClient();
  });
  after(() => ts.stop());

  it("a write records one typed event in its transaction and publishes the same event here", async () => {
    const seen: ChangeEvent[] = [];
    ts.app.onChange((ev) => seen.push(ev));
    const before = (await changeRows(ts)).length;
    const gid = await admin.call<number>("group.create", { name: `ce${store}` });
    const user = await admin.call<{ id: number; group: { id: number } }>("user.create", {
      username: `ce${store}u`,
      full_name: "Change Event",
      password: "Pass-word-1234",
      group_create: true,
      groups: [gid],
    });
    const rows = (await changeRows(ts)).slice(before);
    assert.equal(rows.length, 2, "one row per commit");
    assert.deepEqual(rows[1]!.users, [user.id]);
    // Its private group and the groups it joined (SMB users also join builtin_users).
    const entry = await admin.call<{ groups: number[] }[]>("user.query", [["id", "=", user.id]]);
    assert.deepEqual(
      [...rows[1]!.groups].sort((a, b) => a - b),
      [user.group.id, ...entry[0]!.groups].sort((a, b) => a - b),
    );
    assert.ok(rows[1]!.groups.includes(gid));
    assert.equal(rows[1]!.all, false);
    assert.deepEqual(seen.slice(-2), rows, "the published events are the recorded ones");
  });

  it("a refused write records nothing", async () => {
    const before = (await changeRows(ts)).length;
    const err = await rpcError(admin.call("user.create", { username: "root", full_name: "x", password: "Pass-word-1234", group_create: true }));
    assert.equal(err.data?.errname, "EINVAL");
    assert.equal((await changeRows(ts)).length, before);
  });
});

describe("typed change events across server processes on one PostgreSQL", { skip: !process.env.GATEHOUSE_TEST_PG && "GATEHOUSE_TEST_PG is not set" }, () => {
  let one: TestServer;
  let two: TestServer;
  before(async () => {
    one = await startServer({ store: "postgres" });
    two = await startServer({ databaseUrl: one.config.database! });
  });
  after(async () => {
    await two?.stop();
    await one?.stop();
  });

  it("the other process gets the typed event and re-renders only the named rows", async () => {
    const admin = await one.adminClient();
    await provisionerOf(two.app).whenIdle();
    const remote: ChangeEvent[] = [];
    two.app.store.changes.onRemoteChange((ev) => remote.push(ev));
    const user = await admin.call<{ id: number }>("user.create", { username: "remoteev", full_name: "Before", password: "Pass-word-1234", group_create: true });
    await admin.call("user.update", user.id, { full_name: "After Change" });
    const deadline = Date.now() + 10_000;
    while (!remote.some((ev) => ev.users.includes(user.id) && remote.length >= 2) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(remote.length >= 2, "both commits announced");
    for (const ev of remote) assert.equal(ev.all, false, "typed, not everything");
    assert.ok(remote.every((ev) => ev.users.includes(user.id)));
    // Process two's provisioner ran for those rows only, and its host files show the change.
    const passwd = path.join(two.config.hostRoot, "etc/passwd");
    while (!/^remoteev:x:\d+:\d+:After Change:/m.test(readFileSync(passwd, "utf8")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.match(readFileSync(passwd, "utf8"), /^remoteev:x:\d+:\d+:After Change:/m);
    assert.equal(provisionerOf(two.app).lastResult?.full, false, "an incremental run");
  });

  it("a change too large to list reaches the other process as a change of everything", async () => {
    const remote: ChangeEvent[] = [];
    two.app.store.changes.onRemoteChange((ev) => remote.push(ev));
    const ids = Array.from({ length: MAX_CHANGE_IDS + 10 }, (_, i) => i + 1_000_000);
    await commitChange(one.app, changeOf({ users: ids }), async () => undefined);
    const deadline = Date.now() + 10_000;
    while (!remote.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(remote.length, 1);
    assert.equal(remote[0]!.all, true);
  });
});
