// Threat: a session keeps rights (or stays signed in) after a change made through this very server
// process, because the per-call check was skipped: a session re-reads the store after a change
// unless everything committed since its last check was this process's own commits, each described
// by its typed event, none concerning the session (src/auth/service.ts onlyOwnChangesElsewhere).
// These tests make the changes that must still reach the session — through group membership,
// through writes no event describes — and check that an unrelated change is really skipped (else
// the tests above would pass without the mechanism). Both stores.

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { forEachStore, rpcError, startServer, uniq, type TestServer } from "../harness.js";
import type { RpcClient } from "../../src/cli/client.js";
import type { Connection } from "../../src/server/connection.js";
import { SESSION_ENDED_CLOSE_CODE } from "../../src/auth/service.js";
import { changeConcernsSession, END_REASONS } from "../../src/auth/revalidate.js";
import { changeOf, EVERYTHING } from "../../src/store/change-event.js";

const PASSWORD = "Skip-pass-1234";

/** A group with a privilege granting `roles` on it (none: a plain group). */
async function makeGroup(admin: RpcClient, roles: string[]): Promise<{ id: number; gid: number }> {
  const name = uniq("g");
  const id = await admin.call<number>("group.create", { name, smb: false });
  const { gid } = await admin.call<{ gid: number }>("group.get_instance", id);
  if (roles.length) await admin.call("privilege.create", { name: `${name}_p`, local_groups: [gid], ds_groups: [], roles, web_shell: false });
  return { id, gid };
}

async function signIn(ts: TestServer, username: string): Promise<RpcClient> {
  const c = await ts.client();
  const r = await c.call<{ response_type: string }>("auth.login_ex", { mechanism: "PASSWORD_PLAIN", username, password: PASSWORD });
  assert.equal(r.response_type, "SUCCESS");
  return c;
}

async function assertEnded(c: RpcClient, reason: string): Promise<void> {
  await assert.rejects(c.call("auth.me"), "the ended session still answers");
  for (let i = 0; i < 100 && !c.closeInfo; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(c.closeInfo?.code, SESSION_ENDED_CLOSE_CODE);
  assert.equal(c.closeInfo?.reason, reason);
}

/** This process's connection of `username`'s session. */
function serverConnection(ts: TestServer, username: string): Connection {
  const conn = [...ts.app.auth.connections].find((c) => c.session?.username === username);
  assert.ok(conn, `a connection of ${username}`);
  return conn;
}

it("every kind of change concerns a session but another account's and a group it is not in", () => {
  const s = { userId: 7, groupIds: [70, 71] };
  for (const ev of [
    EVERYTHING,
    changeOf({ users: [7] }),
    changeOf({ groups: [71] }),
    changeOf({ privileges: [1] }),
    changeOf({ apiKeys: [1] }),
    changeOf({ settings: ["system.security"] }),
    changeOf({ teams: [1] }),
    changeOf({ systems: [1] }),
    changeOf({ systemGroups: [1] }),
    changeOf({ directory: [1] }),
  ]) {
    assert.equal(changeConcernsSession(ev, s), true, JSON.stringify(ev));
  }
  assert.equal(changeConcernsSession(changeOf({ users: [8], groups: [72] }), s), false);
  // Groups not known (never read): a group change concerns it.
  assert.equal(changeConcernsSession(changeOf({ groups: [72] }), { userId: 7 }), true);
});

forEachStore("session check skipped only for own changes that do not concern the session", (store) => {
  let ts: TestServer;
  let admin: RpcClient;
  before(async () => {
    ts = await startServer({ store });
    admin = await ts.adminClient();
  });
  after(() => ts.stop());

  it("taking a user out of a privileged group (group.update) narrows the user's very next call", async () => {
    const own = await makeGroup(admin, []);
    const admins = await makeGroup(admin, ["READONLY_ADMIN"]);
    const readers = await makeGroup(admin, ["ACCOUNT_READ"]);
    const username = uniq("k");
    const u = await admin.call<{ id: number }>("user.create", { username, full_name: username, password: PASSWORD, group: own.id, groups: [admins.id, readers.id], smb: false });
    const c = await signIn(ts, username);
    assert.ok(Array.isArray(await c.call("privilege.query")));
    await admin.call("group.update", admins.id, { users: [] });
    assert.equal((await rpcError(c.call("privilege.query"))).errname, "EACCES");
    assert.ok(Array.isArray(await c.call("user.query", [["id", "=", u.id]])));
    // Put back through the group: the rights come back on the next call.
    await admin.call("group.update", admins.id, { users: [u.id] });
    assert.ok(Array.isArray(await c.call("privilege.query")));
    // The last privileged group left: no access, the session ends.
    await admin.call("group.update", readers.id, { users: [] });
    await admin.call("group.update", admins.id, { users: [] });
    await assertEnded(c, END_REASONS.noAccess);
  });

  it("changes that do not concern a session skip its check; the next one that does is still seen", async () => {
    const own = await makeGroup(admin, ["READONLY_ADMIN"]);
    const other = await makeGroup(admin, []);
    const username = uniq("k");
    const u = await admin.call<{ id: number }>("user.create", { username, full_name: username, password: PASSWORD, group: own.id, smb: false });
    const c = await signIn(ts, username);
    assert.ok(await c.call("auth.me"));
    const conn = serverConnection(ts, username);
    // A change, then a call: the session's check reads the store (and learns its groups).
    await admin.call("group.update", other.id, { sudo_commands: ["/bin/false"] });
    assert.ok(await c.call("auth.me"));
    for (let i = 0; i < 3; i++) {
      await admin.call("group.update", other.id, { sudo_commands: [`/bin/true ${i}`] });
      assert.equal(ts.app.auth.refreshSession(conn), undefined, "an unrelated group's change skips the check");
      assert.ok(Array.isArray(await c.call("privilege.query")));
    }
    // Another account changed: still none of this session's business.
    const bystander = uniq("b");
    await admin.call("user.create", { username: bystander, full_name: bystander, password: PASSWORD, group: other.id, smb: false });
    assert.equal(ts.app.auth.refreshSession(conn), undefined, "another account's creation skips the check");
    // Its own group changed: read again.
    await admin.call("group.update", own.id, { sudo_commands: ["/bin/true"] });
    assert.notEqual(ts.app.auth.refreshSession(conn), undefined, "its own group's change is read");
    await admin.call("user.update", u.id, { locked: true });
    await assertEnded(c, END_REASONS.locked);
  });

  it("a write this process makes without a typed event still ends the session on its next call", async () => {
    const own = await makeGroup(admin, ["READONLY_ADMIN"]);
    for (const inTransaction of [false, true]) {
      const username = uniq("k");
      const u = await admin.call<{ id: number }>("user.create", { username, full_name: username, password: PASSWORD, group: own.id, smb: false });
      const c = await signIn(ts, username);
      assert.ok(await c.call("auth.me"));
      await ts.app.auth.refreshSession(serverConnection(ts, username));
      // A script on the server's own store connection: no event recorded.
      const lock = (db: typeof ts.app.store.db) => db.updateTable("users").set({ locked: 1 }).where("id", "=", u.id).execute();
      if (inTransaction) await ts.app.store.db.transaction().execute(lock);
      else await lock(ts.app.store.db);
      await assertEnded(c, END_REASONS.locked);
    }
  });
});
