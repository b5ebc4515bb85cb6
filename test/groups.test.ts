// group.* over the real WebSocket API as the local administrator (reference §2, §11
// test_account_group.py / test_account_duplicate_uid_gid.py / privilege interplay), on SQLite and
// PostgreSQL.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { forEachStore, rpcError, startServer, uniq, type TestServer } from "./harness.js";
import type { RpcClient, RpcCallError } from "../src/cli/client.js";
import { ERROR_CODES, type ErrorCode } from "../src/server/error-codes.js";

const PW = "Test-pass-1234";

function triples(e: RpcCallError): [string, string, number][] {
  assert.equal(e.code, -32602, `expected a validation error, got ${e.code} ${e.message}`);
  return e.extra;
}

/** A field error on `attr` with the stable `code` (docs/errors.md), answered with the code's errno. */
function hasError(e: RpcCallError, attr: string, code: ErrorCode, errno?: number): void {
  const list = triples(e);
  const i = list.findIndex(([a], k) => a === attr && e.codes[k] === code);
  assert.ok(i >= 0, `no ${attr} with ${code} in ${JSON.stringify(list)} (codes ${JSON.stringify(e.codes)})`);
  assert.equal(list[i][2], errno ?? ERROR_CODES[code].errno);
}

/** A call error (-32001) with the stable `code` (docs/errors.md). */
function callError(e: RpcCallError, code: ErrorCode, errname?: string): void {
  assert.equal(e.code, -32001, `expected a call error, got ${e.code} ${JSON.stringify(e.data)}`);
  assert.equal(e.errorCode, code, `reason: ${e.data?.reason}`);
  assert.equal(e.data?.error, ERROR_CODES[code].errno);
  if (errname) assert.equal(e.errname, errname);
}

forEachStore("groups", (store) => {
  let ts: TestServer;
  let a: RpcClient;
  const newGroup = (extra: Record<string, unknown> = {}) => a.call<number>("group.create", { name: uniq("g"), smb: false, ...extra });
  const get = (id: number) => a.call<any>("group.get_instance", id);
  const byGid = async (gid: number) => (await a.call<any[]>("group.query", [["gid", "=", gid]]))[0];
  const newUser = (extra: Record<string, unknown> = {}) => a.call<any>("user.create", { username: uniq("u"), full_name: "U", password: PW, group_create: true, smb: false, ...extra });

  before(async () => {
    ts = await startServer({ store });
    a = await ts.adminClient();
  });
  after(async () => {
    await ts.stop();
  });

  describe("group.create", () => {
    test("returns the id; entry fields and defaults", async () => {
      const name = uniq("g");
      const id = await a.call<number>("group.create", { name });
      assert.equal(typeof id, "number");
      const g = await get(id);
      assert.equal(g.name, name);
      assert.equal(g.group, name);
      assert.equal(g.smb, true, "smb defaults to true");
      assert.ok(g.gid >= 1000);
      assert.equal(g.builtin, false);
      assert.equal(g.local, true);
      assert.equal(g.immutable, false);
      assert.deepEqual(g.sudo_commands, []);
      assert.deepEqual(g.users, []);
      assert.deepEqual(g.roles, []);
      assert.equal(g.sid.split("-").pop(), String(200000 + id));
      const ba = await byGid(544);
      assert.ok(ba.sid.endsWith("-512"));
      assert.ok((await byGid(546)).sid.endsWith("-514"));
      assert.deepEqual(ba.roles, ["FULL_ADMIN"]);
      assert.equal(ba.immutable, false);
      assert.equal((await byGid(42)).immutable, true);
    });

    test("name rules and duplicates", async () => {
      const name = uniq("g");
      await newGroup({ name });
      hasError(await rpcError(newGroup({ name })), "group_create.name", "group.name_taken", 17);
      hasError(await rpcError(newGroup({ name: "bad name" })), "group_create.name", "name.invalid_characters");
      hasError(await rpcError(newGroup({ name: "-x" })), "group_create.name", "name.invalid_start");
      hasError(await rpcError(newGroup({ gid: 5, bogus: true })), "group_create.bogus", "core.extra_field");
      // Group names may start with a digit or a dot; at most 32 characters (shadow-utils; the
      // reference has no limit — docs/departures.md).
      await newGroup({ name: `9${uniq("g")}` });
      hasError(await rpcError(newGroup({ name: `9${"x".repeat(40)}` })), "group_create.name", "name.too_long");
    });

    test("SMB names: built-in entries and case-insensitive clashes", async () => {
      for (const n of ["Administrators", "guests", "USERS"]) {
        hasError(await rpcError(newGroup({ name: n, smb: true })), "group_create.name", "group.name_smb_builtin");
      }
      const name = uniq("Smb");
      await newGroup({ name, smb: true });
      hasError(await rpcError(newGroup({ name: name.toLowerCase(), smb: true })), "group_create.name", "group.name_groupmap_conflict", 17);
      await newGroup({ name: name.toUpperCase(), smb: false });
    });

    test("gid: duplicate (exact triple), privilege-held gid, get_next_gid skips it", async () => {
      const name = uniq("g");
      await newGroup({ name, gid: 4444 });
      assert.deepEqual(triples(await rpcError(newGroup({ gid: 4444 }))), [["group_create.gid", `Gid 4444 is already used (group ${name} has it)`, 17]]);
      const next = await a.call<number>("group.get_next_gid");
      const again = await a.call<number>("group.get_next_gid");
      assert.notEqual(next, again);
      // A privilege naming a gid with no group blocks that gid.
      const holder = await newGroup();
      const holderGid = (await get(holder)).gid;
      const privName = uniq("p");
      await a.call("privilege.create", { name: privName, local_groups: [holderGid], ds_groups: [], roles: ["READONLY_ADMIN"], web_shell: false });
      const held = holderGid + 100000;
      await ts.app.store.db
        .updateTable("privileges")
        .set({ local_groups: JSON.stringify([holderGid, held]) })
        .where("name", "=", privName)
        .execute();
      hasError(await rpcError(newGroup({ gid: held })), "group_create.gid", "group.gid_used_by_privilege");
    });

    test("members: directory ids, unknown users, root", async () => {
      hasError(await rpcError(newGroup({ users: [100000001] })), "group_create.users", "group.member_directory_user");
      hasError(await rpcError(newGroup({ users: [999991, 999992] })), "group_create.users", "group.member_not_found");
      hasError(await rpcError(newGroup({ users: [1] })), "group_create.users", "group.member_root");
      const u = await newUser();
      const id = await newGroup({ users: [u.id] });
      assert.deepEqual((await get(id)).users, [u.id]);
      assert.ok((await a.call<any>("user.get_instance", u.id)).groups.includes(id));
    });

    test("sudo validation", async () => {
      hasError(await rpcError(newGroup({ sudo_commands: ["ALL", "/usr/bin/id"] })), "group_create.sudo_commands.0", "sudo.all_with_others");
      hasError(await rpcError(newGroup({ sudo_commands_nopasswd: ["id"] })), "group_create.sudo_commands_nopasswd.0", "sudo.invalid_command");
      const id = await newGroup({ sudo_commands: ["/usr/bin/id"], sudo_commands_nopasswd: ["ALL"] });
      const g = await get(id);
      assert.deepEqual(g.sudo_commands, ["/usr/bin/id"]);
      assert.deepEqual(g.sudo_commands_nopasswd, ["ALL"]);
    });

    test("userns_idmap: DIRECT round-trip and conflicts", async () => {
      const id = await newGroup({ userns_idmap: "DIRECT" });
      assert.equal((await get(id)).userns_idmap, "DIRECT");
      const name = uniq("g");
      await newGroup({ name, userns_idmap: 80001 });
      hasError(await rpcError(newGroup({ userns_idmap: 80001 })), "group_create.userns_idmap", "idmap.container_id_taken");
    });
  });

  describe("group.update", () => {
    test("returns the id; gid cannot be sent; unknown id", async () => {
      const id = await newGroup();
      const name = uniq("g");
      assert.equal(await a.call("group.update", id, { name }), id);
      assert.equal((await get(id)).name, name);
      hasError(await rpcError(a.call("group.update", id, { gid: 5 })), "group_update.gid", "core.extra_field");
      assert.deepEqual(triples(await rpcError(a.call("group.update", 9999999, {}))), [[null, "Group 9999999 does not exist", 2]]);
    });

    test("immutable and built-in groups", async () => {
      const shadow = await byGid(42);
      hasError(await rpcError(a.call("group.update", shadow.id, { sudo_commands: [] })), "group_update.id", "group.immutable");
      const bu = await byGid(545);
      hasError(await rpcError(a.call("group.update", bu.id, { smb: false })), "group_update.smb", "group.builtin_field");
      hasError(await rpcError(a.call("group.update", bu.id, { name: "x" })), "group_update.name", "group.builtin_field");
      hasError(await rpcError(a.call("group.update", bu.id, { userns_idmap: "DIRECT" })), "group_update.userns_idmap", "idmap.builtin_account");
      const ro = await byGid(951);
      hasError(await rpcError(a.call("group.update", ro.id, { userns_idmap: "DIRECT" })), "group_update.userns_idmap", "idmap.builtin_account");
    });

    test("privileged groups cannot get an idmap", async () => {
      const id = await newGroup();
      const g = await get(id);
      await a.call("privilege.create", { name: uniq("p"), local_groups: [g.gid], ds_groups: [], roles: ["READONLY_ADMIN"], web_shell: false });
      assert.deepEqual((await get(id)).roles, ["READONLY_ADMIN"]);
      hasError(await rpcError(a.call("group.update", id, { userns_idmap: "DIRECT" })), "group_update.userns_idmap", "idmap.privileged_account");
    });

    test("members: users lists aux plus primary members; primary members cannot be dropped", async () => {
      const id = await newGroup();
      const primary = await newUser({ group_create: false, group: id });
      const aux = await newUser();
      assert.equal(await a.call("group.update", id, { users: [primary.id, aux.id] }), id);
      assert.deepEqual(
        (await get(id)).users,
        [primary.id, aux.id].sort((x, y) => x - y),
      );
      hasError(await rpcError(a.call("group.update", id, { users: [aux.id] })), "group_update.users", "group.primary_for_members");
      await a.call("group.update", id, { users: [primary.id] });
      assert.ok(!(await a.call<any>("user.get_instance", aux.id)).groups.includes(id));
    });

    test("root: cannot join other groups nor leave builtin_administrators", async () => {
      const id = await newGroup();
      hasError(await rpcError(a.call("group.update", id, { users: [1] })), "group_update.users", "group.member_root");
      const ba = await byGid(544);
      const without = ba.users.filter((u: number) => u !== 1);
      hasError(await rpcError(a.call("group.update", ba.id, { users: without })), "group_update.users", "group.root_must_stay_admin");
    });

    test("the Local Administrator privilege keeps a password-enabled member", async () => {
      const ba = await byGid(544);
      hasError(await rpcError(a.call("group.update", ba.id, { users: [1] })), "group_update.users", "access.last_local_administrator");
    });

    test("SMB rename clash", async () => {
      const name = uniq("Smb");
      await newGroup({ name, smb: true });
      const id = await newGroup({ smb: true });
      hasError(await rpcError(a.call("group.update", id, { name: name.toLowerCase() })), "group_update.name", "group.name_groupmap_conflict");
    });
  });

  describe("group.delete", () => {
    test("built-in and privilege-held groups cannot be deleted", async () => {
      const bu = await byGid(545);
      callError(await rpcError(a.call("group.delete", bu.id)), "group.builtin_delete", "EACCES");
      const id = await newGroup();
      const g = await get(id);
      const p = uniq("p");
      await a.call("privilege.create", { name: p, local_groups: [g.gid], ds_groups: [], roles: [], web_shell: false });
      callError(await rpcError(a.call("group.delete", id)), "group.used_by_privilege", "EACCES");
    });

    test("primary members move to nogroup, or are deleted with delete_users (aux members stay)", async () => {
      const id = await newGroup();
      const primary = await newUser({ group_create: false, group: id });
      const aux = await newUser();
      await a.call("group.update", id, { users: [primary.id, aux.id] });
      assert.equal(await a.call("group.delete", id), id);
      const moved = await a.call<any>("user.get_instance", primary.id);
      assert.equal(moved.group.bsdgrp_gid, 65534);
      assert.deepEqual((await a.call<any>("user.get_instance", aux.id)).groups, []);

      const id2 = await newGroup();
      const p2 = await newUser({ group_create: false, group: id2 });
      const a2 = await newUser();
      await a.call("group.update", id2, { users: [p2.id, a2.id] });
      await a.call("group.delete", id2, { delete_users: true });
      assert.equal((await a.call<any[]>("user.query", [["id", "=", p2.id]])).length, 0);
      assert.equal((await a.call<any[]>("user.query", [["id", "=", a2.id]])).length, 1);
    });

    test("only removed events for group.query; audit label names the group", async () => {
      const c = await ts.adminClient();
      await c.call("core.subscribe", "group.query");
      const name = uniq("ev");
      const id = await newGroup({ name });
      await a.call("group.update", id, { smb: true });
      await a.call("group.delete", id);
      await new Promise((r) => setTimeout(r, 100));
      const events = c.notifications.filter((n) => n.method === "collection_update" && n.params.collection === "group.query" && n.params.id === id);
      assert.deepEqual(
        events.map((e) => e.params.msg),
        ["removed"],
      );
      const rows = await ts.app.store.db.selectFrom("audit").select("event_data").where("event", "=", "METHOD_CALL").orderBy("id").execute();
      const labels = rows.map((r) => JSON.parse(r.event_data).description).filter((d: string) => d?.endsWith(name));
      assert.deepEqual(labels, [`Create group ${name}`, `Update group ${name}`, `Delete group ${name}`]);
    });
  });

  describe("lookups", () => {
    test("get_group_obj", async () => {
      hasError(await rpcError(a.call("group.get_group_obj", {})), "get_group_obj.groupname", "core.argument_conflict");
      hasError(await rpcError(a.call("group.get_group_obj", { groupname: "root", gid: 0 })), "get_group_obj.groupname", "core.argument_conflict");
      callError(await rpcError(a.call("group.get_group_obj", { groupname: "no-such-group" })), "group.not_found");
      callError(await rpcError(a.call("group.get_group_obj", { gid: 77777777 })), "group.not_found");
      const ba = await a.call<any>("group.get_group_obj", { groupname: "builtin_administrators", sid_info: true });
      assert.equal(ba.gr_gid, 544);
      assert.ok(ba.gr_mem.includes("root") && ba.gr_mem.includes("admin"));
      assert.ok(ba.sid.endsWith("-512"));
      assert.equal(ba.source, "LOCAL");
      assert.equal((await a.call<any>("group.get_group_obj", { gid: 544 })).sid, null);
    });

    test("has_password_enabled_user counts aux and primary members, honours exclusions", async () => {
      const id = await newGroup();
      const gid = (await get(id)).gid;
      assert.equal(await a.call("group.has_password_enabled_user", [gid]), false);
      const p = await newUser({ group_create: false, group: id });
      assert.equal(await a.call("group.has_password_enabled_user", [gid]), true);
      assert.equal(await a.call("group.has_password_enabled_user", [gid], [p.id]), false);
      await a.call("user.update", p.id, { password_disabled: true });
      assert.equal(await a.call("group.has_password_enabled_user", [gid]), false);
      const x = await newUser();
      await a.call("group.update", id, { users: [p.id, x.id] });
      assert.equal(await a.call("group.has_password_enabled_user", [gid]), true);
    });

    test("query push-down and computed fields", async () => {
      const p = uniq("gq");
      for (const n of ["b", "a", "c"]) await newGroup({ name: `${p}${n}` });
      const page = await a.call<any[]>("group.query", [["name", "^", p]], { order_by: ["name"], limit: 2 });
      assert.deepEqual(
        page.map((g) => g.name),
        [`${p}a`, `${p}b`],
      );
      assert.equal(await a.call("group.query", [["name", "^", p]], { count: true }), 3);
      const privileged = await a.call<any[]>("group.query", [["roles", "!=", []]]);
      assert.ok(privileged.some((g) => g.gid === 544));
      assert.ok((await a.call<any[]>("group.query", [["immutable", "=", true]])).every((g) => g.builtin));
    });
  });
});
