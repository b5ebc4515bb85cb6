// Threat: privilege escalation — a holder of one write role becomes a full administrator (issue 9
// point 4). Each test is named after the attack it stops; each runs against a real server on both
// stores. The rules: a change that gives (or takes away) a role needs the caller to hold it; acting
// on an account needs every role that account holds; sudo rights and built-in groups need
// FULL_ADMIN; an API key (and a token minted from it) acts only within its roles, on its owner too.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { forEachStore, rpcError, type TestServer } from "../harness.js";
import { PASSWORD, clientFor, lastAudit, loginAs, makeAdmin, makeUser, randomName, startAsAdmin, type TestUser } from "../auth-helpers.js";
import type { RpcClient } from "../../src/cli/client.js";

const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl attacker@example";
const NEW_PASSWORD = "Escalate-pass-9876";

/** The call fails with `errname` (EPERM by default): refused, not merely invalid. */
async function refused(p: Promise<unknown>, errname = "EPERM"): Promise<string> {
  const e = await rpcError(p);
  assert.equal(e.errname, errname, `expected ${errname}, got ${e.errname}: ${e.data?.reason}`);
  return e.data?.reason ?? "";
}

forEachStore("escalation", (store) => {
  let ts: TestServer;
  let admin: TestUser;
  let a: RpcClient;
  /** DB ids of some built-in groups, by name. */
  const groupIds: Record<string, number> = {};
  const groupIdOf = async (name: string) => (groupIds[name] ??= (await a.call<any[]>("group.query", [["name", "=", name]]))[0].id);
  const auxGroups = async (userId: number): Promise<number[]> => (await a.call<any>("user.get_instance", userId)).groups;
  const roleNames = async (userId: number): Promise<string[]> => (await a.call<any>("user.get_instance", userId)).roles;

  before(async () => {
    ({ ts, admin, a } = await startAsAdmin(store));
  });
  after(() => ts.stop());

  describe("ACCOUNT_WRITE", () => {
    let aw: RpcClient;
    let me: TestUser;
    let victim: TestUser;
    before(async () => {
      ({ client: aw, user: me } = await clientFor(ts, ["ACCOUNT_WRITE"]));
      victim = await makeAdmin(ts);
    });

    it("ACCOUNT_WRITE cannot add itself to builtin_administrators (user.update groups)", async () => {
      const bad = await groupIdOf("builtin_administrators");
      await refused(aw.call("user.update", me.id, { groups: [...(await auxGroups(me.id)), bad] }));
      assert.ok(!(await auxGroups(me.id)).includes(bad));
      assert.ok(!(await roleNames(me.id)).includes("FULL_ADMIN"));
    });

    it("ACCOUNT_WRITE cannot add itself to builtin_administrators (group.update users)", async () => {
      const bad = await groupIdOf("builtin_administrators");
      const g = await a.call<any>("group.get_instance", bad);
      await refused(aw.call("group.update", bad, { users: [...g.users, me.id] }));
      assert.deepEqual((await a.call<any>("group.get_instance", bad)).users, g.users);
    });

    it("ACCOUNT_WRITE cannot join the read-only administrators group (a role it lacks)", async () => {
      const ro = await groupIdOf("truenas_readonly_administrators");
      await refused(aw.call("user.update", me.id, { groups: [ro] }));
    });

    it("ACCOUNT_WRITE cannot set a full admin's password and log in as them", async () => {
      await refused(aw.call("user.update", victim.id, { password: NEW_PASSWORD }));
      await refused(aw.call("user.set_password", { username: victim.username, new_password: NEW_PASSWORD }));
      const c = await ts.client();
      assert.equal((await c.login(victim.username, NEW_PASSWORD)).response_type, "AUTH_ERR");
      assert.equal((await c.login(victim.username, PASSWORD)).response_type, "SUCCESS");
    });

    it("ACCOUNT_WRITE cannot mint a one-time password for a full admin", async () => {
      await refused(aw.call("auth.generate_onetime_password", { username: victim.username }));
      await refused(aw.call("auth.generate_onetime_password", { username: "root" }));
    });

    it("ACCOUNT_WRITE cannot clear a full admin's two-factor secret", async () => {
      await a.call("user.renew_2fa_secret", victim.username);
      await refused(aw.call("user.unset_2fa_secret", victim.username));
      assert.equal((await a.call<any>("user.get_instance", victim.id)).twofactor_auth_configured, true);
    });

    it("ACCOUNT_WRITE cannot write root's or a full admin's authorized_keys", async () => {
      const [root] = await a.call<any[]>("user.query", [["uid", "=", 0]]);
      await refused(aw.call("user.update", root.id, { sshpubkey: SSH_KEY }));
      await refused(aw.call("user.update", victim.id, { sshpubkey: SSH_KEY }));
      assert.equal((await a.call<any>("user.get_instance", root.id)).sshpubkey ?? null, root.sshpubkey ?? null);
    });

    it("ACCOUNT_WRITE cannot lock, delete, rename or move the home of a full admin", async () => {
      await refused(aw.call("user.update", victim.id, { locked: true }));
      await refused(aw.call("user.update", victim.id, { home: "/var/empty", full_name: "x" }));
      await refused(aw.call("user.delete", victim.id));
      await refused(aw.call("group.delete", victim.groupId, { delete_users: true }));
      const entry = await a.call<any>("user.get_instance", victim.id);
      assert.equal(entry.locked, false);
    });

    it("ACCOUNT_WRITE cannot give itself NOPASSWD: ALL sudo (user, own group, new group, new user)", async () => {
      await refused(aw.call("user.update", me.id, { sudo_commands_nopasswd: ["ALL"] }));
      await refused(aw.call("group.update", me.groupId, { sudo_commands_nopasswd: ["ALL"] }));
      await refused(aw.call("group.create", { name: randomName("g"), sudo_commands_nopasswd: ["ALL"], users: [me.id] }));
      const name = randomName("s");
      await refused(aw.call("user.create", { username: name, full_name: name, group_create: true, password: PASSWORD, smb: false, sudo_commands: ["ALL"] }));
      assert.deepEqual((await a.call<any>("user.get_instance", me.id)).sudo_commands_nopasswd, []);
      assert.deepEqual(await a.call("user.query", [["username", "=", name]]), []);
    });

    it("ACCOUNT_WRITE cannot join a group that carries sudo rights", async () => {
      const gid = await a.call<number>("group.create", { name: randomName("g"), smb: false, sudo_commands_nopasswd: ["ALL"] });
      await refused(aw.call("user.update", me.id, { groups: [...(await auxGroups(me.id)), gid] }));
      await refused(aw.call("group.update", gid, { users: [me.id] }));
      await refused(aw.call("user.update", me.id, { group: gid }));
      assert.deepEqual((await a.call<any>("group.get_instance", gid)).users, []);
    });

    it("ACCOUNT_WRITE cannot make a built-in group such as shadow or sudo a primary group", async () => {
      for (const name of ["shadow", "sudo"]) {
        const id = await groupIdOf(name);
        const u = randomName("p");
        await refused(aw.call("user.create", { username: u, full_name: u, group: id, password: PASSWORD, smb: false }));
        const plain = await makeUser(ts);
        await refused(aw.call("user.update", plain.id, { group: id }));
        assert.equal((await a.call<any>("user.get_instance", plain.id)).group.id, plain.groupId);
      }
      // group_create reuses an existing group named like the user: a user called "shadow" would get it.
      await refused(aw.call("user.create", { username: "shadow", full_name: "x", group_create: true, password: PASSWORD, smb: false }));
      assert.deepEqual(await a.call("user.query", [["username", "=", "shadow"]]), []);
    });

    it("ACCOUNT_WRITE cannot join a group the host's sudoers honours by name (wheel, admin), by creating or renaming one", async () => {
      const wheel = await a.call<any[]>("group.query", [["name", "=", "wheel"]]);
      if (!wheel.length) {
        await refused(aw.call("group.create", { name: "wheel", smb: false, users: [me.id] }));
        const gid = await aw.call<number>("group.create", { name: randomName("g"), smb: false, users: [me.id] });
        await refused(aw.call("group.update", gid, { name: "wheel" }));
        assert.deepEqual(await a.call("group.query", [["name", "=", "wheel"]]), []);
      }
      // The local administrator's own group is named admin (Ubuntu's sudoers: %admin ALL=(ALL) ALL).
      const [adminGroup] = await a.call<any[]>("group.query", [["name", "=", "admin"]]);
      if (adminGroup) await refused(aw.call("user.update", me.id, { groups: [...(await auxGroups(me.id)), adminGroup.id] }));
      assert.ok(!(await auxGroups(me.id)).includes(adminGroup?.id));
    });

    it("ACCOUNT_WRITE cannot hand out other built-in groups either (ftp)", async () => {
      const ftp = await groupIdOf("ftp");
      const plain = await makeUser(ts);
      await refused(aw.call("user.update", plain.id, { groups: [ftp] }));
      await a.call("user.update", plain.id, { groups: [ftp] }); // FULL_ADMIN may
      await refused(aw.call("user.update", plain.id, { groups: [] }), "EPERM"); // nor take it away
    });

    it("ACCOUNT_WRITE cannot demote a read-only administrator (roles it does not hold)", async () => {
      const ro = await makeUser(ts, { auxGids: [951] });
      await refused(aw.call("user.update", ro.id, { groups: [] }));
      const g = await groupIdOf("truenas_readonly_administrators");
      await refused(aw.call("group.update", g, { users: [] }));
      assert.ok((await roleNames(ro.id)).includes("READONLY_ADMIN"));
    });

    it("A refused attempt on a full admin is audited as an unauthorized call", async () => {
      await refused(aw.call("user.update", victim.id, { locked: true }));
      const entry = await lastAudit(ts, (e) => e.event === "METHOD_CALL" && e.event_data.method === "user.update" && e.username === me.username);
      assert.ok(entry, "audit entry");
      assert.equal(entry.success, false);
      assert.equal(entry.event_data.authorized, false);
    });

    it("ACCOUNT_WRITE still manages plain users (no role, no sudo, no built-in group)", async () => {
      const name = randomName("ok");
      const u = await aw.call<any>("user.create", { username: name, full_name: name, group_create: true, password: PASSWORD, smb: true });
      assert.ok(u.groups.length >= 1, "builtin_users joined automatically (SMB)");
      const gid = await aw.call<number>("group.create", { name: randomName("g"), smb: false, users: [u.id] });
      await aw.call("user.update", u.id, { password: NEW_PASSWORD, full_name: "Renamed", groups: [gid] });
      const otp = await aw.call<string>("auth.generate_onetime_password", { username: name });
      assert.equal(typeof otp, "string");
      await aw.call("user.delete", u.id);
    });
  });

  describe("PRIVILEGE_WRITE", () => {
    let pw: RpcClient;
    let me: TestUser;
    before(async () => {
      ({ client: pw, user: me } = await clientFor(ts, ["PRIVILEGE_WRITE"]));
    });

    it("PRIVILEGE_WRITE cannot create a privilege with FULL_ADMIN for its own group", async () => {
      await refused(pw.call("privilege.create", { name: randomName("p"), local_groups: [me.gid], roles: ["FULL_ADMIN"], web_shell: false }));
      assert.ok(!(await roleNames(me.id)).includes("FULL_ADMIN"));
    });

    it("PRIVILEGE_WRITE cannot park FULL_ADMIN on an empty group or a directory group for later", async () => {
      const empty = await a.call<number>("group.create", { name: randomName("g"), smb: false });
      const g = await a.call<any>("group.get_instance", empty);
      await refused(pw.call("privilege.create", { name: randomName("p"), local_groups: [g.gid], roles: ["FULL_ADMIN"], web_shell: false }));
      await refused(pw.call("privilege.create", { name: randomName("p"), ds_groups: ["CN=admins,DC=example,DC=com"], roles: ["ACCOUNT_WRITE"], web_shell: false }));
      await refused(pw.call("privilege.create", { name: randomName("p"), roles: ["SHARING_ADMIN"], web_shell: false }));
    });

    it("PRIVILEGE_WRITE cannot add FULL_ADMIN to an existing privilege of its own group", async () => {
      const [own] = await a.call<any[]>("privilege.query", [["name", "=", `${me.username}_priv`]]);
      await refused(pw.call("privilege.update", own.id, { roles: ["PRIVILEGE_WRITE", "FULL_ADMIN"] }));
      await refused(pw.call("privilege.update", own.id, { roles: ["PRIVILEGE_WRITE", "ACCOUNT_WRITE"] }));
      assert.deepEqual((await a.call<any>("privilege.get_instance", own.id)).roles, ["PRIVILEGE_WRITE"]);
    });

    it("PRIVILEGE_WRITE cannot link its own group to the Local Administrator privilege or another FULL_ADMIN privilege", async () => {
      const [local] = await a.call<any[]>("privilege.query", [["builtin_name", "=", "LOCAL_ADMINISTRATOR"]]);
      const gids = local.local_groups.map((g: any) => g.gid);
      await refused(pw.call("privilege.update", local.id, { local_groups: [...gids, me.gid] }));
      const custom = await a.call<any>("privilege.create", { name: randomName("p"), local_groups: [], roles: ["FULL_ADMIN"], web_shell: false });
      await refused(pw.call("privilege.update", custom.id, { local_groups: [me.gid] }));
      await refused(pw.call("privilege.update", custom.id, { ds_groups: ["S-1-5-21-1-2-3-512"] }));
      assert.ok(!(await roleNames(me.id)).includes("FULL_ADMIN"));
    });

    it("PRIVILEGE_WRITE cannot strip or delete another administrators' privilege", async () => {
      const victim = await makeUser(ts, { roles: ["FULL_ADMIN"] });
      const [priv] = await a.call<any[]>("privilege.query", [["name", "=", `${victim.username}_priv`]]);
      await refused(pw.call("privilege.update", priv.id, { roles: [] }));
      await refused(pw.call("privilege.update", priv.id, { local_groups: [] }));
      await refused(pw.call("privilege.delete", priv.id));
      assert.ok((await roleNames(victim.id)).includes("FULL_ADMIN"));
    });

    it("PRIVILEGE_WRITE cannot give itself a web shell on the host", async () => {
      const [own] = await a.call<any[]>("privilege.query", [["name", "=", `${me.username}_priv`]]);
      await refused(pw.call("privilege.update", own.id, { web_shell: true }));
      await refused(pw.call("privilege.create", { name: randomName("p"), local_groups: [me.gid], roles: [], web_shell: true }));
      assert.equal((await a.call<any>("privilege.get_instance", own.id)).web_shell, false);
    });

    it("PRIVILEGE_WRITE still grants the roles it holds", async () => {
      const g = await a.call<any>("group.get_instance", await a.call<number>("group.create", { name: randomName("g"), smb: false }));
      const p = await pw.call<any>("privilege.create", { name: randomName("p"), local_groups: [g.gid], roles: ["PRIVILEGE_READ"], web_shell: false });
      await pw.call("privilege.update", p.id, { roles: ["PRIVILEGE_READ", "PRIVILEGE_WRITE"] });
      await pw.call("privilege.delete", p.id);
    });
  });

  describe("ACCOUNT_WRITE + PRIVILEGE_WRITE together", () => {
    it("ACCOUNT_WRITE + PRIVILEGE_WRITE cannot combine a group and a privilege into FULL_ADMIN", async () => {
      const { client: c, user: me } = await clientFor(ts, ["ACCOUNT_WRITE", "PRIVILEGE_WRITE"]);
      const gid = await c.call<number>("group.create", { name: randomName("g"), smb: false });
      const g = await a.call<any>("group.get_instance", gid);
      // Either order, and both at once: each step is checked in its own transaction.
      const results = await Promise.allSettled([
        c.call("privilege.create", { name: randomName("p"), local_groups: [g.gid], roles: ["FULL_ADMIN"], web_shell: false }),
        c.call("group.update", gid, { users: [me.id] }),
      ]);
      assert.equal(results[0].status, "rejected");
      assert.ok(!(await roleNames(me.id)).includes("FULL_ADMIN"));
    });
  });

  describe("API keys and limited sessions", () => {
    let adminKey: any;
    let kc: RpcClient;
    before(async () => {
      adminKey = await a.call("api_key.create", { name: randomName(), username: admin.username, roles: ["READONLY_ADMIN"] });
      kc = await ts.client();
      assert.equal((await kc.loginApiKey(adminKey.key)).response_type, "SUCCESS");
    });

    it("A READONLY_ADMIN API key cannot revoke keys, even its own owner's", async () => {
      await refused(kc.call("api_key.revoke", adminKey.id), "EACCES");
      await refused(kc.call("api_key.delete", adminKey.id), "EACCES");
      await refused(kc.call("api_key.update", adminKey.id, { reset: true }), "EACCES");
      await refused(kc.call("api_key.create", { name: randomName(), username: admin.username }), "EACCES");
      assert.equal((await a.call<any>("api_key.get_instance", adminKey.id)).revoked, false);
    });

    it("A READONLY_ADMIN API key cannot renew its owner's 2FA secret nor change the owner's password", async () => {
      await refused(kc.call("user.renew_2fa_secret", admin.username));
      await refused(kc.call("user.set_password", { username: admin.username, old_password: PASSWORD, new_password: NEW_PASSWORD }));
    });

    it("A token minted from a READONLY_ADMIN key session is limited the same way", async () => {
      const token = await kc.call<string>("auth.generate_token", 300);
      const tc = await ts.client();
      assert.equal(await tc.call("auth.login_with_token", token), true);
      await refused(tc.call("api_key.revoke", adminKey.id), "EACCES");
      await refused(tc.call("user.renew_2fa_secret", admin.username));
    });

    it("An ACCOUNT_WRITE API key of a full admin cannot act on its own owner", async () => {
      const k = await a.call<any>("api_key.create", { name: randomName(), username: admin.username, roles: ["ACCOUNT_WRITE"] });
      const c = await ts.client();
      assert.equal((await c.loginApiKey(k.key)).response_type, "SUCCESS");
      await refused(c.call("user.update", admin.id, { password: NEW_PASSWORD }));
      await refused(c.call("auth.generate_onetime_password", { username: admin.username }));
      await refused(c.call("user.unset_2fa_secret", admin.username));
      // Plain accounts are still within its roles.
      const plain = await makeUser(ts);
      await c.call("user.update", plain.id, { full_name: "By key" });
    });

    it("API_KEY_WRITE cannot create or reset a key for a full admin and sign in as them", async () => {
      const { client: kw } = await clientFor(ts, ["API_KEY_WRITE"]);
      await refused(kw.call("api_key.create", { name: randomName(), username: admin.username, roles: ["API_KEY_WRITE"] }));
      await refused(kw.call("api_key.update", adminKey.id, { reset: true }));
    });

    it("A read-only session (privilege.become_readonly) cannot act on its own account", async () => {
      const self = await makeUser(ts, { auxGids: [951] });
      const c = await loginAs(ts, self);
      await c.call("user.renew_2fa_secret", self.username); // a full session may
      await c.call("privilege.become_readonly");
      await refused(c.call("user.renew_2fa_secret", self.username));
    });

    it("A READONLY_ADMIN password session still manages its own keys and 2FA secret, not others'", async () => {
      const self = await makeUser(ts, { auxGids: [951] });
      const c = await loginAs(ts, self);
      const k = await c.call<any>("api_key.create", { name: randomName(), username: self.username });
      await c.call("api_key.revoke", k.id);
      await c.call("api_key.delete", k.id);
      await c.call("user.renew_2fa_secret", self.username);
      await refused(c.call("user.renew_2fa_secret", admin.username));
      await refused(c.call("user.set_password", { username: admin.username, new_password: NEW_PASSWORD }));
      await refused(c.call("api_key.revoke", adminKey.id), "EACCES");
    });
  });
});
