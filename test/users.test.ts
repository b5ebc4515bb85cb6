// user.* over the real WebSocket API as the local administrator (reference §1, §3, §11 — the
// upstream test_account*.py behaviours that apply to Gatehouse), on SQLite and PostgreSQL:
// validation messages and errnos, entries, events, secrets, audit, and home directories on disk.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { clientWithRoles, forEachStore, rpcError, startServer, uniq, type TestServer } from "./harness.js";
import type { RpcClient, RpcCallError } from "../src/cli/client.js";
import { ERROR_CODES, type ErrorCode } from "../src/server/error-codes.js";
import { setSetting } from "../src/store/settings.js";
import { provisionerOf } from "../src/provision/index.js";

const PW = "Test-pass-1234";
const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGpFjN0G1J6g7b3Qk5pJgNAYvU8gxSgW1x6J9b9Y3bq1 alice@example";

/** The [attribute, message, errno] triples of a validation error (-32602). */
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

forEachStore("users", (store) => {
  let ts: TestServer;
  let a: RpcClient;
  let root: string; // a storage root
  const newUser = async (extra: Record<string, unknown> = {}) => a.call<any>("user.create", { username: uniq("u"), full_name: "Test User", password: PW, group_create: true, smb: false, ...extra });
  const groupByGid = async (gid: number) => (await a.call<any[]>("group.query", [["gid", "=", gid]]))[0];

  before(async () => {
    ts = await startServer({ store });
    root = ts.config.storageRoots[0];
    mkdirSync(root, { recursive: true });
    a = await ts.adminClient();
  });
  after(async () => {
    await ts.stop();
  });

  describe("first start and built-in accounts", () => {
    test("local administrator is set up once", async () => {
      assert.equal(await a.call("user.has_local_administrator_set_up"), true);
      const c = await ts.client();
      callError(await rpcError(c.call("user.setup_local_administrator", "admin", "Other-pass-1")), "user.local_admin_exists", "EEXIST");
    });

    test("admin is uid 950, immutable, sudo ALL, in builtin_administrators; root's password is disabled", async () => {
      const admin = await a.call<any>("user.query", [["username", "=", "admin"]], { get: true });
      assert.equal(admin.uid, 950);
      assert.equal(admin.group.bsdgrp_gid, 950);
      assert.equal(admin.group.bsdgrp_group, "admin");
      assert.equal(admin.immutable, true);
      assert.equal(admin.builtin, false);
      assert.deepEqual(admin.sudo_commands, ["ALL"]);
      assert.deepEqual(admin.roles, ["FULL_ADMIN"]);
      const ba = await groupByGid(544);
      assert.ok(admin.groups.includes(ba.id));
      const rootUser = await a.call<any>("user.get_instance", 1);
      assert.equal(rootUser.username, "root");
      assert.equal(rootUser.password_disabled, true);
      assert.deepEqual(rootUser.groups, [ba.id]);
      assert.deepEqual(rootUser.roles, ["FULL_ADMIN"]);
      assert.equal(rootUser.builtin, true);
      assert.equal(rootUser.immutable, true);
    });

    test("built-in accounts from the reference list are builtin and not SMB", async () => {
      const builtins = await a.call<any[]>("user.query", [["builtin", "=", true]]);
      assert.ok(builtins.some((u) => u.username === "news"));
      assert.ok(builtins.every((u) => u.smb === false && u.immutable === true));
      const groups = await a.call<any[]>(
        "group.query",
        [
          ["builtin", "=", true],
          ["smb", "=", true],
        ],
        { order_by: ["gid"] },
      );
      assert.deepEqual(
        groups.map((g) => g.gid),
        [544, 545, 546, 951, 952],
      );
    });
  });

  describe("user.create", () => {
    test("returns the full entry plus the password; defaults", async () => {
      const name = uniq("c");
      const u = await a.call<any>("user.create", { username: name, full_name: "Carl C", password: PW, group_create: true });
      assert.equal(u.password, PW);
      assert.equal(u.username, name);
      assert.equal(u.home, "/var/empty");
      assert.equal(u.smb, true, "smb defaults to true");
      assert.ok(u.uid >= 1000, "automatic uids start at 1000");
      assert.equal(u.group.bsdgrp_group, name);
      assert.equal(u.group.bsdgrp_smb, false);
      assert.match(u.unixhash, /^\$6\$rounds=1000\$[./0-9A-Za-z]{16}\$/);
      assert.match(u.smbhash, /^[0-9A-F]{32}$/);
      assert.match(u.sid, /^S-1-5-21-\d+-\d+-\d+-\d+$/);
      assert.equal(u.sid.split("-").pop(), String(20000 + u.id));
      assert.ok(u.last_password_change instanceof Date);
      assert.equal(u.password_age, 0);
      assert.deepEqual(u.password_history, []);
      assert.equal(u.local, true);
      assert.equal(u.immutable, false);
      assert.equal(u.twofactor_auth_configured, false);
      assert.equal(u.microsoft_account, false);
      assert.equal(u.source, "LOCAL");
      const bu = await groupByGid(545);
      assert.deepEqual(u.groups, [bu.id], "SMB users join builtin_users");
      for (const key of [
        "id",
        "uid",
        "username",
        "unixhash",
        "smbhash",
        "home",
        "shell",
        "full_name",
        "builtin",
        "smb",
        "webshare",
        "userns_idmap",
        "group",
        "groups",
        "password_disabled",
        "ssh_password_enabled",
        "sshpubkey",
        "locked",
        "sudo_commands",
        "sudo_commands_nopasswd",
        "email",
        "local",
        "immutable",
        "twofactor_auth_configured",
        "sid",
        "last_password_change",
        "password_age",
        "password_history",
        "password_change_required",
        "roles",
        "api_keys",
      ]) {
        assert.ok(key in u, `entry lacks ${key}`);
      }
    });

    test("non-SMB user: no NT hash, no sid, not in builtin_users", async () => {
      const u = await newUser();
      assert.equal(u.smbhash, "*");
      assert.equal(u.sid, null);
      assert.deepEqual(u.groups, []);
    });

    test("duplicate username and uid (exact triples)", async () => {
      const u = await newUser({ uid: 4321 });
      hasError(await rpcError(newUser({ username: u.username })), "user_create.username", "user.username_taken", 17);
      const e = await rpcError(newUser({ uid: 4321 }));
      assert.deepEqual(triples(e), [["user_create.uid", `Uid 4321 is already used (user ${u.username} has it)`, 17]]);
    });

    test("username rules", async () => {
      hasError(await rpcError(newUser({ username: "bad name" })), "user_create.username", "name.invalid_characters");
      hasError(await rpcError(newUser({ username: "usér" })), "user_create.username", "name.invalid_characters");
      hasError(await rpcError(newUser({ username: "-x" })), "user_create.username", "name.invalid_start");
      hasError(await rpcError(newUser({ username: "" })), "user_create.username", "name.empty");
      hasError(await rpcError(newUser({ username: "a".repeat(33) })), "user_create.username", "name.too_long");
    });

    test("input model: unknown keys, missing fields, types", async () => {
      hasError(await rpcError(newUser({ bogus: 1 })), "user_create.bogus", "core.extra_field");
      hasError(await rpcError(newUser({ id: 5 })), "user_create.id", "core.extra_field");
      hasError(await rpcError(a.call("user.create", { full_name: "x", password: PW, group_create: true })), "user_create.username", "core.invalid_argument");
      assert.ok(triples(await rpcError(newUser({ uid: "x" }))).some(([attr]) => attr === "user_create.uid"));
      assert.ok(triples(await rpcError(newUser({ uid: 90000001 }))).some(([attr]) => attr === "user_create.uid"));
    });

    test("password rules", async () => {
      hasError(await rpcError(newUser({ password: undefined })), "user_create.password", "user.password_required");
      hasError(await rpcError(newUser({ password_disabled: true })), "user_create.password_disabled", "user.password_with_disabled");
      hasError(await rpcError(newUser({ random_password: true })), "user_create.random_password", "user.password_conflict");
      hasError(await rpcError(newUser({ password: "a\u0000b" })), "user_create.password", "password.nul");
      hasError(await rpcError(newUser({ password: undefined, password_disabled: true, smb: true })), "user_create.password_disabled", "user.smb_password_disabled");
      // Seed 001: with the password disabled, Lock and (password) sudo are not available.
      hasError(await rpcError(newUser({ password: undefined, password_disabled: true, locked: true })), "user_create.locked", "user.lock_password_disabled");
      hasError(await rpcError(newUser({ password: undefined, password_disabled: true, sudo_commands: ["ALL"] })), "user_create.sudo_commands", "user.sudo_needs_password");
      const ok = await newUser({ password: undefined, password_disabled: true, sudo_commands_nopasswd: ["ALL"] });
      assert.equal(ok.unixhash, "*");
      assert.equal(ok.password, null);
      assert.equal(ok.last_password_change, null);
    });

    test("random_password", async () => {
      const u = await newUser({ password: undefined, random_password: true });
      assert.match(u.password, /^[A-Za-z0-9]{20}$/);
      const c = await ts.client();
      assert.equal((await c.login(u.username, u.password)).response_type !== "AUTH_ERR", true);
      const r = await a.call<any>("user.update", u.id, { random_password: true });
      assert.match(r.password, /^[A-Za-z0-9]{20}$/);
      assert.notEqual(r.password, u.password);
      const plain = await a.call<any>("user.update", u.id, { full_name: "Renamed" });
      assert.equal(plain.password, null);
    });

    test("full name, email, shell, home_mode", async () => {
      hasError(await rpcError(newUser({ full_name: "a:b" })), "user_create.full_name", "name.full_name_character");
      hasError(await rpcError(newUser({ full_name: "" })), "user_create.full_name", "name.full_name_empty");
      hasError(await rpcError(newUser({ email: "nope" })), "user_create.email", "name.email_invalid");
      hasError(await rpcError(newUser({ shell: "/bin/nonexistent" })), "user_create.shell", "user.shell_invalid");
      hasError(await rpcError(newUser({ home_mode: "qqq" })), "user_create.home_mode", "home.mode_invalid");
      hasError(await rpcError(newUser({ home_mode: "077" })), "user_create.home_mode", "home.mode_unreadable");
      hasError(await rpcError(newUser({ home_mode: "600" })), "user_create.home_mode", "home.mode_unsearchable");
      const u = await newUser({ email: "", microsoft_account: true });
      assert.equal(u.email, null);
      assert.equal(u.microsoft_account, true);
      const v = await newUser({ email: "x@example.test" });
      assert.equal(v.email, "x@example.test");
    });

    test("ssh_password_enabled needs a home and a login shell", async () => {
      const e = await rpcError(newUser({ ssh_password_enabled: true, shell: "/usr/sbin/nologin" }));
      hasError(e, "user_create.shell", "user.ssh_password_needs_home_shell");
      hasError(e, "user_create.home", "user.ssh_password_needs_home_shell");
    });

    test("primary group: exactly one of group / group_create; unknown id; reuse of a same-named group", async () => {
      hasError(await rpcError(newUser({ group_create: false })), "user_create.group", "user.group_required");
      hasError(await rpcError(newUser({ group: 999999 })), "user_create.group", "user.group_required");
      hasError(await rpcError(newUser({ group_create: false, group: 999999 })), "user_create.group", "user.group_not_found", 2);
      const name = uniq("g");
      const gid = await a.call<number>("group.create", { name, smb: false });
      const u = await newUser({ username: name });
      assert.equal(u.group.id, gid, "group_create reuses the group named like the user");
      const other = await a.call<number>("group.create", { name: uniq("g"), smb: false });
      const v = await newUser({ group_create: false, group: other });
      assert.equal(v.group.id, other);
    });

    test("auxiliary groups: existence, directory ids, built-in restrictions, limit", async () => {
      hasError(await rpcError(newUser({ groups: [999999] })), "user_create.groups.0", "user.aux_group_not_found");
      hasError(await rpcError(newUser({ groups: [100000001] })), "user_create.groups.0", "user.group_directory");
      const shadow = await groupByGid(42);
      hasError(await rpcError(newUser({ groups: [shadow.id] })), "user_create.groups.0", "user.group_builtin");
      const many = Array.from({ length: 65 }, (_, i) => i + 1);
      assert.ok(triples(await rpcError(newUser({ groups: many }))).some(([attr]) => attr === "user_create.groups"));
      const ro = await groupByGid(951);
      const u = await newUser({ groups: [ro.id] });
      assert.deepEqual(u.groups, [ro.id]);
      assert.deepEqual(u.roles, ["READONLY_ADMIN"]);
    });

    test("sudo command validation", async () => {
      for (const field of ["sudo_commands", "sudo_commands_nopasswd"]) {
        hasError(await rpcError(newUser({ [field]: ["ALL", "/usr/bin/id"] })), `user_create.${field}.0`, "sudo.all_with_others");
        hasError(await rpcError(newUser({ [field]: ["id"] })), `user_create.${field}.0`, "sudo.invalid_command");
        hasError(await rpcError(newUser({ [field]: ["/usr/bin/../bin/id"] })), `user_create.${field}.0`, "sudo.invalid_command");
        hasError(await rpcError(newUser({ [field]: ["/usr/bin/does-not-exist-xyz"] })), `user_create.${field}.0`, "sudo.invalid_command");
        hasError(await rpcError(newUser({ [field]: ["/etc/passwd"] })), `user_create.${field}.0`, "sudo.invalid_command");
      }
      const u = await newUser({ sudo_commands: ["/usr/bin/id"], sudo_commands_nopasswd: ["ALL"] });
      assert.deepEqual(u.sudo_commands, ["/usr/bin/id"]);
      assert.deepEqual(u.sudo_commands_nopasswd, ["ALL"]);
    });

    test("SMB: case-insensitive clash with another SMB user", async () => {
      const name = uniq("Smb");
      await newUser({ username: name, smb: true });
      hasError(await rpcError(newUser({ username: name.toLowerCase(), smb: true })), "user_create.smb", "user.smb_name_conflict", 17);
      await newUser({ username: name.toUpperCase(), smb: false });
    });

    test("userns_idmap", async () => {
      const u = await newUser({ userns_idmap: "DIRECT" });
      assert.equal(u.userns_idmap, "DIRECT");
      const v = await newUser({ userns_idmap: 70001 });
      assert.equal(v.userns_idmap, 70001);
      hasError(await rpcError(newUser({ userns_idmap: 70001 })), "user_create.userns_idmap", "idmap.container_id_taken");
      const ro = await groupByGid(951);
      hasError(await rpcError(newUser({ userns_idmap: "DIRECT", groups: [ro.id] })), "user_create.userns_idmap", "idmap.privileged_account");
      assert.ok(triples(await rpcError(newUser({ userns_idmap: 0 }))).some(([attr]) => attr === "user_create.userns_idmap"));
    });

    test("nothing is written when validation fails", async () => {
      const before = await a.call<number>("user.query", [], { count: true });
      const groupsBefore = await a.call<number>("group.query", [], { count: true });
      await rpcError(newUser({ full_name: "x:y" }));
      await rpcError(newUser({ home: path.join(root, "missing-parent", "x"), home_create: true }));
      assert.equal(await a.call<number>("user.query", [], { count: true }), before);
      assert.equal(await a.call<number>("group.query", [], { count: true }), groupsBefore);
    });
  });

  describe("user.update", () => {
    test("uid and group_create are not accepted; unknown id", async () => {
      const u = await newUser();
      hasError(await rpcError(a.call("user.update", u.id, { uid: 5 })), "user_update.uid", "core.extra_field");
      hasError(await rpcError(a.call("user.update", u.id, { group_create: true })), "user_update.group_create", "core.extra_field");
      const e = await rpcError(a.call("user.update", 9999999, {}));
      assert.deepEqual(triples(e), [[null, "User 9999999 does not exist", 2]]);
    });

    test("primary group: null, unknown, change", async () => {
      const u = await newUser();
      hasError(await rpcError(a.call("user.update", u.id, { group: null })), "user_update.group", "user.primary_group_required");
      hasError(await rpcError(a.call("user.update", u.id, { group: 999999 })), "user_update.group", "user.group_not_found", 2);
      const g = await a.call<number>("group.create", { name: uniq("g"), smb: false });
      const r = await a.call<any>("user.update", u.id, { group: g });
      assert.equal(r.group.id, g);
    });

    test("non-ASCII username rejected on update; rename works", async () => {
      const u = await newUser();
      hasError(await rpcError(a.call("user.update", u.id, { username: "aünï" })), "user_update.username", "name.invalid_characters");
      const name = uniq("ren");
      assert.equal((await a.call<any>("user.update", u.id, { username: name })).username, name);
    });

    test("enabling SMB needs the password in the same call; disabling drops builtin_users", async () => {
      const u = await newUser();
      hasError(await rpcError(a.call("user.update", u.id, { smb: true })), "user_update.smb", "user.smb_needs_password_reset");
      const r = await a.call<any>("user.update", u.id, { smb: true, password: PW });
      assert.equal(r.smb, true);
      assert.match(r.smbhash, /^[0-9A-F]{32}$/);
      const bu = await groupByGid(545);
      assert.ok(r.groups.includes(bu.id));
      const off = await a.call<any>("user.update", u.id, { smb: false });
      assert.equal(off.sid, null);
      assert.equal(off.smbhash, "*");
      assert.ok(!off.groups.includes(bu.id));
    });

    test("password history is kept, newest last, capped at 10", async () => {
      const u = await newUser();
      const hashes = [u.unixhash];
      for (let i = 0; i < 12; i++) {
        const r = await a.call<any>("user.update", u.id, { password: `${PW}-${i}` });
        assert.ok(r.last_password_change instanceof Date);
        hashes.push(r.unixhash);
      }
      const last = await a.call<any>("user.get_instance", u.id);
      assert.equal(last.password_history.length, 10);
      assert.deepEqual(last.password_history, hashes.slice(-11, -1));
    });

    test("immutable accounts: identity fields are fixed", async () => {
      const news = await a.call<any>("user.query", [["username", "=", "news"]], { get: true });
      hasError(await rpcError(a.call("user.update", news.id, { username: "news2" })), "user_update.username", "user.immutable_field");
      hasError(await rpcError(a.call("user.update", news.id, { home: "/tmp" })), "user_update.home", "user.immutable_field");
      hasError(await rpcError(a.call("user.update", news.id, { home_mode: "700" })), "user_update.home_mode", "user.immutable_field");
      const g = await groupByGid(100);
      hasError(await rpcError(a.call("user.update", news.id, { group: g.id })), "user_update.group", "user.immutable_field");
      hasError(await rpcError(a.call("user.update", news.id, { smb: true })), "user_update.smb", "user.immutable_field");
      hasError(await rpcError(a.call("user.update", news.id, { userns_idmap: "DIRECT" })), "user_update.userns_idmap", "user.immutable_field");
      // Other fields stay editable.
      const r = await a.call<any>("user.update", news.id, { email: "news@example.test", sudo_commands_nopasswd: ["/usr/bin/id"] });
      assert.equal(r.email, "news@example.test");
    });

    test("root stays exactly in builtin_administrators and never gets webshare", async () => {
      const ba = await groupByGid(544);
      const ro = await groupByGid(951);
      hasError(await rpcError(a.call("user.update", 1, { groups: [] })), "user_update.groups", "user.root_must_stay_admin");
      hasError(await rpcError(a.call("user.update", 1, { groups: [ba.id, ro.id] })), "user_update.groups", "user.root_must_stay_admin");
      hasError(await rpcError(a.call("user.update", 1, { webshare: true })), "user_update.webshare", "user.root_webshare");
      await a.call("user.update", 1, { groups: [ba.id] });
    });

    test("the last unlocked FULL_ADMIN cannot be locked; the last password admin cannot lose the password", async () => {
      const admin = await a.call<any>("user.query", [["username", "=", "admin"]], { get: true });
      // root is still an unlocked FULL_ADMIN, so admin could be locked; lock root first.
      await a.call("user.update", 1, { locked: true });
      hasError(await rpcError(a.call("user.update", admin.id, { locked: true })), "user_update.locked", "access.last_full_admin");
      await a.call("user.update", 1, { locked: false });
      const e = await rpcError(a.call("user.update", admin.id, { password_disabled: true, sudo_commands: [] }));
      hasError(e, "user_update.password_disabled", "access.last_local_administrator");
      // With a second administrator both become possible.
      const ba = await groupByGid(544);
      const other = await newUser({ groups: [ba.id] });
      assert.deepEqual(other.roles, ["FULL_ADMIN"]);
      assert.equal((await a.call<any>("user.update", other.id, { locked: true })).locked, true);
      await a.call("user.update", other.id, { locked: false });
      const off = await a.call<any>("user.update", other.id, { password_disabled: true });
      assert.equal(off.password_disabled, true);
      assert.equal(off.unixhash, "*");
    });

    test("password_disabled cannot be combined with lock or password sudo in one call", async () => {
      const u = await newUser();
      hasError(await rpcError(a.call("user.update", u.id, { password_disabled: true, locked: true })), "user_update.locked", "user.lock_password_disabled");
      hasError(await rpcError(a.call("user.update", u.id, { password_disabled: true, sudo_commands: ["ALL"] })), "user_update.sudo_commands", "user.sudo_needs_password");
      hasError(await rpcError(a.call("user.update", u.id, { password_disabled: true, password: PW })), "user_update.password_disabled", "user.password_with_disabled");
    });

    test("ssh_password_enabled on update", async () => {
      const u = await newUser();
      hasError(await rpcError(a.call("user.update", u.id, { ssh_password_enabled: true })), "user_update.ssh_password_enabled", "user.ssh_password_needs_home_shell");
    });

    test("password age and password_change_required follow system.security", async () => {
      const u = await newUser();
      const db = ts.app.store.db;
      await db
        .updateTable("users")
        .set({ last_password_change: Date.now() - 40 * 86_400_000 })
        .where("id", "=", u.id)
        .execute();
      await setSetting(db, "system.security", { max_password_age: 45 });
      try {
        const r = await a.call<any>("user.get_instance", u.id);
        assert.equal(r.password_age, 40);
        assert.equal(r.password_change_required, true);
        await db
          .updateTable("users")
          .set({ last_password_change: Date.now() + 5 * 86_400_000 })
          .where("id", "=", u.id)
          .execute();
        const f = await a.call<any>("user.get_instance", u.id);
        assert.equal(f.password_age, null, "a change in the future has no age");
        assert.equal(f.password_change_required, false);
      } finally {
        await db.deleteFrom("settings").where("key", "=", "system.security").execute();
      }
    });
  });

  describe("user.delete", () => {
    test("built-in, immutable and own account cannot be deleted", async () => {
      const news = await a.call<any>("user.query", [["username", "=", "news"]], { get: true });
      callError(await rpcError(a.call("user.delete", news.id)), "user.delete_builtin", "EINVAL");
      const admin = await a.call<any>("user.query", [["username", "=", "admin"]], { get: true });
      callError(await rpcError(a.call("user.delete", admin.id)), "user.delete_self", "EINVAL");
      const ba = await groupByGid(544);
      const other = await newUser({ groups: [ba.id] });
      const c = await ts.client();
      await c.login(other.username, PW);
      callError(await rpcError(c.call("user.delete", admin.id)), "user.delete_immutable", "EINVAL");
      callError(await rpcError(c.call("user.delete", other.id)), "user.delete_self", "EINVAL");
      await a.call("user.update", other.id, { groups: [] });
    });

    test("delete_group removes a private group only; returns the id", async () => {
      const u = await newUser();
      assert.equal(await a.call("user.delete", u.id), u.id);
      assert.equal((await a.call<any[]>("group.query", [["id", "=", u.group.id]])).length, 0);
      const g = await a.call<number>("group.create", { name: uniq("shared"), smb: false });
      const v = await newUser({ group_create: false, group: g });
      const w = await newUser({ group_create: false, group: g });
      await a.call("user.delete", v.id);
      assert.equal((await a.call<any[]>("group.query", [["id", "=", g]])).length, 1, "still used by another user");
      await a.call("user.delete", w.id, { delete_group: false });
      assert.equal((await a.call<any[]>("group.query", [["id", "=", g]])).length, 1, "delete_group false keeps it");
      const e = await rpcError(a.call("user.delete", w.id));
      assert.deepEqual(triples(e), [[null, `User ${w.id} does not exist`, 2]]);
    });
  });

  describe("lookups", () => {
    test("get_next_uid: from 1000, never the same twice", async () => {
      const x = await a.call<number>("user.get_next_uid");
      const y = await a.call<number>("user.get_next_uid");
      assert.ok(x >= 1000);
      assert.notEqual(x, y);
      const u = await newUser({ uid: x });
      assert.equal(u.uid, x);
    });

    test("get_user_obj", async () => {
      hasError(await rpcError(a.call("user.get_user_obj", {})), "get_user_obj.username", "core.argument_conflict");
      hasError(await rpcError(a.call("user.get_user_obj", { username: "root", uid: 0 })), "get_user_obj.username", "core.argument_conflict");
      callError(await rpcError(a.call("user.get_user_obj", { username: "nobody-here" })), "user.not_found");
      callError(await rpcError(a.call("user.get_user_obj", { uid: 77777777 })), "user.not_found");
      const u = await newUser({ smb: true });
      const ro = await groupByGid(951);
      await a.call("user.update", u.id, { groups: [...u.groups, ro.id] });
      const obj = await a.call<any>("user.get_user_obj", { username: u.username, get_groups: true, sid_info: true });
      assert.equal(obj.pw_name, u.username);
      assert.equal(obj.pw_uid, u.uid);
      assert.equal(obj.pw_gid, u.group.bsdgrp_gid);
      assert.equal(obj.pw_dir, "/var/empty");
      assert.equal(obj.pw_gecos, "Test User");
      assert.ok(obj.grouplist.includes(951) && obj.grouplist.includes(545) && obj.grouplist.includes(u.group.bsdgrp_gid));
      assert.equal(obj.sid, u.sid);
      assert.equal(obj.source, "LOCAL");
      assert.equal(obj.local, true);
      const byUid = await a.call<any>("user.get_user_obj", { uid: u.uid });
      assert.equal(byUid.pw_name, u.username);
      assert.equal(byUid.grouplist, null);
      assert.equal(byUid.sid, null);
    });

    test("shell_choices and suggest_username", async () => {
      const shells = await a.call<Record<string, string>>("user.shell_choices", []);
      assert.equal(shells["/usr/sbin/nologin"], "nologin");
      assert.equal(shells["/usr/bin/bash"], "bash");
      const base = await a.call<string>("user.suggest_username", "Zed Quux");
      assert.equal(base, "zquux");
      await newUser({ username: "zquux" });
      assert.equal(await a.call<string>("user.suggest_username", "Zed Quux"), "zquux2");
    });

    test("query: push-down filters, order, paging, computed fields, nested group fields", async () => {
      const p = uniq("q");
      const made = [];
      for (const n of ["c", "a", "b"]) made.push(await newUser({ username: `${p}${n}` }));
      const page = await a.call<any[]>("user.query", [["username", "^", p]], { order_by: ["-username"], limit: 2, offset: 1 });
      assert.deepEqual(
        page.map((u) => u.username),
        [`${p}b`, `${p}a`],
      );
      assert.equal(await a.call("user.query", [["username", "^", p]], { count: true }), 3);
      const one = await a.call<any>("user.query", [["username", "=", `${p}a`]], { get: true, select: ["username", "uid"] });
      assert.deepEqual(Object.keys(one).sort(), ["uid", "username"]);
      const admins = await a.call<any[]>("user.query", [["roles", "rin", "FULL_ADMIN"]], { order_by: ["uid"] });
      assert.ok(admins.some((u) => u.username === "admin") && admins.some((u) => u.username === "root"));
      const byGroup = await a.call<any[]>("user.query", [["group.bsdgrp_gid", "=", made[0].group.bsdgrp_gid]]);
      assert.deepEqual(
        byGroup.map((u) => u.id),
        [made[0].id],
      );
      const ui = await a.call<any[]>("user.query", [
        [
          "OR",
          [
            [
              ["local", "=", true],
              [
                "OR",
                [
                  ["builtin", "=", false],
                  ["username", "=", "root"],
                ],
              ],
            ],
            ["local", "=", false],
          ],
        ],
      ]);
      assert.ok(ui.some((u) => u.username === "root") && !ui.some((u) => u.username === "news"));
      assert.ok(
        (
          await a.call<any[]>("user.query", [
            ["immutable", "=", true],
            ["builtin", "=", false],
          ])
        ).some((u) => u.username === "admin"),
      );
      callError(await rpcError(a.call("user.query", [["username", "=", "no-such"]], { get: true })), "query.match_not_found");
      hasError(await rpcError(a.call("user.query", [["username", "??", "x"]])), "filters.0", "query.invalid_filters");
    });
  });

  describe("events, secrets, audit", () => {
    test("collection_update on user.query: added/changed with the entry (secrets hidden), removed with the id", async () => {
      const c = await ts.adminClient();
      await c.call("core.subscribe", "user.query");
      const u = await newUser();
      await a.call("user.update", u.id, { full_name: "Changed Name" });
      await a.call("user.delete", u.id);
      await new Promise((r) => setTimeout(r, 100));
      const events = c.notifications.filter((n) => n.method === "collection_update" && n.params.collection === "user.query" && n.params.id === u.id);
      assert.deepEqual(
        events.map((e) => e.params.msg),
        ["added", "changed", "removed"],
      );
      assert.equal(events[0].params.fields.username, u.username);
      assert.equal(events[0].params.fields.unixhash, "********");
      assert.equal(events[1].params.fields.full_name, "Changed Name");
      assert.equal(events[2].params.fields, undefined);
    });

    test("secrets are redacted without ACCOUNT_WRITE", async () => {
      const reader = await clientWithRoles(ts, ["READONLY_ADMIN"]);
      const r = await reader.client.call<any>("user.query", [["id", "=", reader.userId]], { get: true });
      assert.equal(r.unixhash, "********");
      assert.equal(r.smbhash, "********");
      assert.equal(r.password_history, "********");
      assert.deepEqual(r.roles, ["READONLY_ADMIN"]);
      assert.equal((await reader.client.call<any>("user.get_instance", reader.userId)).unixhash, "********");
      callError(await rpcError(reader.client.call("user.create", { username: uniq("x"), full_name: "x", password: PW, group_create: true })), "core.not_authorized", "EACCES");
      const writer = await clientWithRoles(ts, ["ACCOUNT_WRITE", "ACCOUNT_READ"]);
      const w = await writer.client.call<any>("user.get_instance", writer.userId);
      assert.match(w.unixhash, /^\$6\$/);
    });

    test("create/update/delete are audited with the username and a redacted password", async () => {
      const name = uniq("aud");
      const u = await a.call<any>("user.create", { username: name, full_name: "A", password: PW, group_create: true, smb: false });
      await a.call("user.update", u.id, { full_name: "B" });
      await a.call("user.delete", u.id);
      const rows = await ts.app.store.db.selectFrom("audit").select(["event_data"]).where("event", "=", "METHOD_CALL").orderBy("id").execute();
      const descriptions = rows.map((r) => JSON.parse(r.event_data)).filter((d) => String(d.description).endsWith(name));
      assert.deepEqual(
        descriptions.map((d) => d.description),
        [`Create user ${name}`, `Update user ${name}`, `Delete user ${name}`],
      );
      assert.equal(descriptions[0].params[0].password, "********");
    });
  });

  describe("home directories", () => {
    test("home_create makes <path>/<username> owned by the user with home_mode and skeleton files", async () => {
      const name = uniq("h");
      const u = await newUser({ username: name, home: root, home_create: true, home_mode: "750" });
      const home = path.join(root, name);
      assert.equal(u.home, home);
      const st = statSync(home);
      assert.equal(st.uid, u.uid);
      assert.equal(st.gid, u.group.bsdgrp_gid);
      assert.equal(st.mode & 0o777, 0o750);
      if (existsSync("/etc/skel/.profile")) {
        const p = statSync(path.join(home, ".profile"));
        assert.equal(p.uid, u.uid);
      }
    });

    test("seed 001: a path already ending with the username is the home itself", async () => {
      const name = uniq("h");
      const u = await newUser({ username: name, home: path.join(root, name), home_create: true });
      assert.equal(u.home, path.join(root, name));
      assert.ok(statSync(u.home).isDirectory());
      // Re-submitting the same parent is idempotent (no nesting).
      const r = await a.call<any>("user.update", u.id, { home: root, home_create: true });
      assert.equal(r.home, path.join(root, name));
    });

    test("an existing directory without home_create is used as is (mode applied)", async () => {
      const dir = path.join(root, uniq("exist"));
      mkdirSync(dir);
      const u = await newUser({ home: dir, home_mode: "770" });
      assert.equal(u.home, dir);
      assert.equal(statSync(dir).mode & 0o777, 0o770);
      assert.equal(statSync(dir).uid, u.uid);
    });

    test("path rules", async () => {
      hasError(await rpcError(newUser({ home: "relative/path" })), "user_create.home", "home.not_absolute");
      hasError(await rpcError(newUser({ home: "/etc", home_create: true })), "user_create.home", "home.outside_storage_roots");
      hasError(await rpcError(newUser({ home: root })), "user_create.home", "home.storage_root_itself");
      hasError(await rpcError(newUser({ home: path.join(root, "nope") })), "user_create.home", "home.parent_not_found");
      const file = path.join(root, uniq("file"));
      writeFileSync(file, "x");
      hasError(await rpcError(newUser({ home: file })), "user_create.home", "home.is_file");
      const owner = await newUser({ home: root, home_create: true });
      hasError(await rpcError(newUser({ home: owner.home })), "user_create.home", "home.taken", 17);
    });

    test("a failing home creation rolls the create back, including the automatic group", async () => {
      const name = uniq("fail");
      // A file where the home directory would go: the create fails and leaves nothing behind.
      writeFileSync(path.join(root, name), "not a dir");
      const groupsBefore = await a.call<number>("group.query", [], { count: true });
      const e = await rpcError(newUser({ username: name, home: root, home_create: true }));
      assert.ok(e.code === -32602 || e.code === -32001);
      assert.equal(await a.call<number>("group.query", [], { count: true }), groupsBefore);
      assert.equal((await a.call<any[]>("user.query", [["username", "=", name]])).length, 0);
    });

    test("sshpubkey: needs a home in a storage root, is validated, written, cleared; delete keeps the home", async () => {
      hasError(await rpcError(newUser({ sshpubkey: ED25519 })), "user_create.sshpubkey", "user.sshpubkey_needs_home");
      hasError(await rpcError(newUser({ home: root, home_create: true, sshpubkey: "ssh-rsa notbase64!!" })), "user_create.sshpubkey", "ssh_key.invalid");
      const u = await newUser({ home: root, home_create: true, sshpubkey: ED25519 });
      const keys = path.join(u.home, ".ssh", "authorized_keys");
      assert.equal(readFileSync(keys, "utf8").trim(), ED25519);
      assert.equal(statSync(keys).mode & 0o777, 0o600);
      assert.equal(statSync(keys).uid, u.uid);
      assert.equal(statSync(path.dirname(keys)).mode & 0o777, 0o700);
      assert.equal(u.sshpubkey, ED25519);
      const cleared = await a.call<any>("user.update", u.id, { sshpubkey: "" });
      assert.equal(cleared.sshpubkey, null);
      assert.equal(existsSync(keys), false);
      await a.call("user.update", u.id, { sshpubkey: ED25519 });
      await a.call("user.delete", u.id);
      assert.ok(existsSync(u.home), "the home is kept");
      // Host provisioning also writes keys files; let it settle before looking.
      await provisionerOf(ts.app).whenIdle();
      for (let i = 0; i < 50 && existsSync(path.join(u.home, ".ssh")); i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(existsSync(path.join(u.home, ".ssh")), false, ".ssh is removed");
    });

    test("home_mode-only update; a vanished home is recreated", async () => {
      const u = await newUser({ home: root, home_create: true });
      await a.call("user.update", u.id, { home_mode: "755" });
      assert.equal(statSync(u.home).mode & 0o777, 0o755);
      (await import("node:fs")).rmSync(u.home, { recursive: true });
      await a.call("user.update", u.id, { full_name: "Back" });
      assert.ok(statSync(u.home).isDirectory());
      assert.equal(statSync(u.home).uid, u.uid);
    });

    test("moving a home copies its contents in a user.do_home_copy job", async () => {
      const u = await newUser({ home: root, home_create: true });
      writeFileSync(path.join(u.home, "notes.txt"), "hello");
      chmodSync(path.join(u.home, "notes.txt"), 0o640);
      chownSync(path.join(u.home, "notes.txt"), u.uid, u.group.bsdgrp_gid);
      const dest = path.join(root, uniq("newparent"));
      mkdirSync(dest);
      const r = await a.call<any>("user.update", u.id, { home: dest, home_create: true });
      assert.equal(r.home, path.join(dest, u.username));
      let job: any;
      for (let i = 0; i < 100; i++) {
        [job] = await a.call<any[]>("core.get_jobs", [["method", "=", "user.do_home_copy"]], { order_by: ["-id"], limit: 1 });
        if (job && (job.state === "SUCCESS" || job.state === "FAILED")) break;
        await new Promise((res) => setTimeout(res, 50));
      }
      assert.equal(job?.state, "SUCCESS", JSON.stringify(job));
      const copied = path.join(r.home, "notes.txt");
      assert.equal(readFileSync(copied, "utf8"), "hello");
      assert.equal(statSync(copied).uid, u.uid);
      assert.equal(statSync(copied).mode & 0o777, 0o640);
      assert.ok(existsSync(path.join(u.home, "notes.txt")), "the old home is left in place");
    });
  });
});
