// privilege.* (reference §4): built-in privileges and their rules, validation messages, roles,
// become_readonly, and how privileges make a user's roles.

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { forEachStore, rpcError, type TestServer } from "./harness.js";
import { PASSWORD, clientFor, lastAudit, loginAs, makeUser, randomName, startAsAdmin, type TestUser } from "./auth-helpers.js";
import type { RpcClient } from "../src/cli/client.js";

forEachStore("privileges", (store) => {
  let ts: TestServer;
  let admin: TestUser;
  let a: RpcClient;
  before(async () => ({ ts, admin, a } = await startAsAdmin(store)));
  after(() => ts.stop());

  it("lists the three built-in privileges with group entries", async () => {
    const list = await a.call<any[]>("privilege.query", [["builtin_name", "!=", null]], { order_by: ["id"] });
    assert.deepEqual(
      list.map((p) => [p.builtin_name, p.name, p.roles, p.web_shell, p.local_groups.map((g: any) => g.gid)]),
      [
        ["LOCAL_ADMINISTRATOR", "Local Administrator", ["FULL_ADMIN"], true, [544]],
        ["READONLY_ADMINISTRATOR", "Read-Only Administrator", ["READONLY_ADMIN"], false, [951]],
        ["SHARING_ADMINISTRATOR", "Sharing Administrator", ["SHARING_ADMIN"], false, [952]],
      ],
    );
    const g = list[0].local_groups[0];
    assert.equal(g.group, "builtin_administrators");
    assert.equal(g.local, true);
    assert.deepEqual(Object.keys(list[0]).sort(), ["builtin_name", "ds_groups", "id", "local_groups", "name", "roles", "web_shell"]);
    const one = await a.call("privilege.get_instance", list[1].id);
    assert.equal(one.builtin_name, "READONLY_ADMINISTRATOR");
    const e = await rpcError(a.call("privilege.get_instance", 999999));
    assert.equal(e.code, -32602);
    assert.equal(e.codes[0], "privilege.not_found");
  });

  it("create: minimal, validation messages, audit", async () => {
    const name = randomName("p");
    const p = await a.call("privilege.create", { name, web_shell: false });
    assert.deepEqual({ ...p, id: 0 }, { id: 0, builtin_name: null, name, local_groups: [], ds_groups: [], roles: [], web_shell: false });
    const audit = await lastAudit(ts, (e) => e.event === "METHOD_CALL" && e.event_data.method === "privilege.create" && e.success);
    assert.equal(audit.event_data.description, `Create privilege ${name}`);

    const dup = await rpcError(a.call("privilege.create", { name, web_shell: false }));
    assert.deepEqual(dup.extra[0].slice(0, 2), ["privilege_create.name", "Object with this name already exists"]);
    const missing = await rpcError(a.call("privilege.create", { name: randomName("p"), local_groups: [4242424], web_shell: false }));
    assert.equal(missing.extra[0][0], "privilege_create.local_groups.0");
    assert.equal(missing.codes[0], "privilege.group_not_found");
    const badRole = await rpcError(a.call("privilege.create", { name: randomName("p"), roles: ["READONLY_ADMIN", "NOPE"], web_shell: false }));
    assert.deepEqual(badRole.extra[0].slice(0, 2), ["privilege_create.roles.1", "Invalid role"]);
    const idmap = await rpcError(a.call("privilege.create", { name: randomName("p"), local_groups: [568], web_shell: false }));
    assert.equal(idmap.extra[0][0], "privilege_update.local_groups.0");
    const noShell = await rpcError(a.call("privilege.create", { name: randomName("p") }));
    assert.deepEqual(noShell.extra[0].slice(0, 2), ["privilege_create.web_shell", "Field required"]);
    const extra = await rpcError(a.call("privilege.create", { name: randomName("p"), web_shell: false, allowlist: [] }));
    assert.deepEqual(extra.extra[0].slice(0, 2), ["privilege_create.allowlist", "Extra inputs are not permitted"]);
  });

  it("privileges grant roles to members of their groups (primary and auxiliary); ds_groups are kept", async () => {
    const u = await makeUser(ts);
    assert.equal((await (await ts.client()).login(u.username, PASSWORD)).response_type, "DENIED");
    const p = await a.call("privilege.create", {
      name: randomName("p"),
      local_groups: [u.gid],
      ds_groups: [12345, "S-1-5-21-1-2-3-1001", "ldapadmins"],
      roles: ["ACCOUNT_READ", "PRIVILEGE_READ"],
      web_shell: false,
    });
    assert.deepEqual(p.ds_groups, [
      { gid: 12345, sid: null, group: null },
      { gid: null, sid: "S-1-5-21-1-2-3-1001", group: null },
      { gid: null, sid: null, group: "ldapadmins" },
    ]);
    assert.equal(p.local_groups[0].gid, u.gid);
    const c = await loginAs(ts, u);
    const me = await c.call("auth.me");
    assert.deepEqual([...me.privilege.roles].sort(), ["ACCOUNT_READ", "PRIVILEGE_READ"]);
    assert.equal(me.privilege.webui_access, false);
    const aux = await makeUser(ts, { auxGids: [u.gid] });
    assert.equal((await (await ts.client()).login(aux.username, PASSWORD)).response_type, "SUCCESS");
    // Update and delete.
    const upd = await a.call("privilege.update", p.id, { roles: ["READONLY_ADMIN"], web_shell: true });
    assert.deepEqual(upd.roles, ["READONLY_ADMIN"]);
    assert.equal(upd.web_shell, true);
    const unknown = await rpcError(a.call("privilege.update", p.id, { local_groups: [4242424] }));
    assert.equal(unknown.extra[0][0], "privilege_update.local_groups.0");
    assert.equal(await a.call("privilege.delete", p.id), true);
    assert.equal((await (await ts.client()).login(u.username, PASSWORD)).response_type, "DENIED");
  });

  it("built-in rules: read-only name and roles, gid 544 kept, no web shell for read-only, no delete", async () => {
    const list = await a.call<any[]>("privilege.query", [["builtin_name", "!=", null]], { order_by: ["id"] });
    const [local, ro] = list;
    const e1 = await rpcError(a.call("privilege.update", local.id, { name: "Renamed" }));
    assert.deepEqual(e1.extra[0].slice(0, 2), ["privilege_update.name", "This field is read-only for built-in privileges"]);
    const e2 = await rpcError(a.call("privilege.update", ro.id, { roles: ["FULL_ADMIN"] }));
    assert.deepEqual(e2.extra[0].slice(0, 2), ["privilege_update.roles", "This field is read-only for built-in privileges"]);
    const e3 = await rpcError(a.call("privilege.update", local.id, { local_groups: [951] }));
    assert.equal(e3.extra[0][0], "privilege_update.local_groups");
    const e4 = await rpcError(a.call("privilege.update", ro.id, { web_shell: true }));
    assert.equal(e4.extra[0][0], "privilege_update.web_shell");
    // Unchanged name/roles may be sent back; other groups may be added.
    const holder = await makeUser(ts);
    const ok = await a.call("privilege.update", local.id, { name: local.name, roles: ["FULL_ADMIN"], local_groups: [544, holder.gid] });
    assert.deepEqual(
      ok.local_groups.map((g: any) => g.gid),
      [544, holder.gid],
    );
    await a.call("privilege.update", local.id, { local_groups: [544] });
    const e5 = await rpcError(a.call("privilege.delete", ro.id));
    assert.equal(e5.errname, "EPERM");
    assert.equal(e5.errorCode, "privilege.builtin_delete");
  });

  it("privilege.roles lists the catalogue with filters, for any session", async () => {
    const { client } = await clientFor(ts, ["ACCOUNT_READ"]);
    const compound = await client.call<any[]>("privilege.roles", [["builtin", "=", false]]);
    assert.deepEqual(
      compound.map((r) => r.name),
      ["FULL_ADMIN", "READONLY_ADMIN", "SHARING_ADMIN", "REPLICATION_ADMIN"],
    );
    const all = await client.call<any[]>("privilege.roles");
    const apiWrite = all.find((r) => r.name === "API_KEY_WRITE");
    assert.deepEqual(apiWrite, { name: "API_KEY_WRITE", title: "API_KEY_WRITE", includes: ["API_KEY_READ"], builtin: true, stig: null });
    assert.equal(all.find((r) => r.name === "ACCOUNT_READ").stig, "GPOS");
    const ro = all.find((r) => r.name === "READONLY_ADMIN");
    assert.ok(ro.includes.every((n: string) => n.endsWith("_READ")));
    assert.equal(await client.call("privilege.roles", [["name", "^", "ACCOUNT_"]], { count: true }), 2);
  });

  it("privilege.become_readonly drops FULL_ADMIN for the rest of the session and redacts secrets", async () => {
    const c = await loginAs(ts, admin);
    const key = await c.call("api_key.create", { name: randomName(), username: admin.username });
    assert.notEqual((await c.call("api_key.get_instance", key.id)).keyhash, "********");
    assert.equal(await c.call("privilege.become_readonly"), null);
    const me = await c.call("auth.me");
    assert.ok(!me.privilege.roles.includes("FULL_ADMIN"));
    assert.ok(me.privilege.roles.includes("READONLY_ADMIN"));
    assert.equal((await c.call("api_key.get_instance", key.id)).keyhash, "********");
    assert.equal((await rpcError(c.call("privilege.create", { name: randomName("p"), web_shell: false }))).errname, "EACCES");
    // A limited role cannot call it.
    const { client } = await clientFor(ts, ["ACCOUNT_READ"]);
    assert.equal((await rpcError(client.call("privilege.become_readonly"))).errname, "EACCES");
  });
});
