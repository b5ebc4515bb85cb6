// Threat: an administrator (or a user, for their own attributes) submits text that the host files
// or the UI cannot hold faithfully — a newline that starts a new passwd or sudoers line, a NUL that
// cuts a C string, a bidi override that shows one name as another, a sudo entry the renderer drops
// silently, an authorized_keys option sshd never honours — or a value so large or so deeply nested
// that the server fails (a stack overflow answered EFAULT) instead of refusing it.
// Guarantee: every such value is refused with a structured validation error naming the field
// (EINVAL), nothing is half-written, and the provisioned passwd/group/shadow/sudoers stay
// well-formed (visudo accepts the sudoers file).

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { forEachStore, rpcError, startServer, uniq, type TestServer } from "../harness.js";
import { PASSWORD, startAsAdmin } from "../auth-helpers.js";
import { RpcClient } from "../../src/cli/client.js";
import { provisionNow } from "../../src/provision/index.js";

/** The call fails with EINVAL, and one of its field errors is on `attr` (matching `message`). */
async function refusedOn(p: Promise<unknown>, attr: string, message?: RegExp): Promise<void> {
  const err = await rpcError(p);
  assert.equal(err.data?.errname, "EINVAL", `expected EINVAL, got ${JSON.stringify(err.data)}`);
  const hit = err.extra.find(([a]) => a === attr);
  assert.ok(hit, `expected an error on ${attr}, got ${JSON.stringify(err.extra)}`);
  assert.equal(hit![2], 22);
  if (message) assert.match(hit![1], message);
}

forEachStore("security: input limits", (store) => {
  let ts: TestServer;
  let a: RpcClient;
  let root: string; // the storage root

  const newUser = (extra: Record<string, unknown> = {}) => a.call("user.create", { username: uniq("il"), full_name: "Input Limits", password: PASSWORD, group_create: true, smb: false, ...extra });

  before(async () => {
    ({ ts, a } = await startAsAdmin(store));
    root = ts.config.storageRoots[0];
    mkdirSync(root, { recursive: true });
  });
  after(() => ts.stop());

  it("a newline, CR, NUL or bidi override in full_name cannot inject a passwd line or disguise a name", async () => {
    const u = await newUser();
    for (const bad of ["x\nroot2::0:0::/root:/bin/bash", "x\rY", "x\u0000y", "x\u0085y", "x\u2028y", "admin\u202enimda", "x\ty", "x\u007fy"]) {
      await refusedOn(newUser({ full_name: bad }), "user_create.full_name");
      await refusedOn(a.call("user.update", u.id, { full_name: bad }), "user_update.full_name");
    }
    const [still] = await a.call<any[]>("user.query", [["id", "=", u.id]]);
    assert.equal(still.full_name, "Input Limits", "nothing was half-written");
  });

  it("an over-long full name, email or group name cannot bloat the host files", async () => {
    await refusedOn(newUser({ full_name: "x".repeat(257) }), "user_create.full_name", /256/);
    await newUser({ full_name: "x".repeat(256) });
    await refusedOn(newUser({ email: `${"a".repeat(250)}@b.cd` }), "user_create.email", /254/);
    await refusedOn(a.call("group.create", { name: "g".repeat(33) }), "group_create.name", /32/);
  });

  it("a value that is not an email address (WHATWG syntax) cannot be stored as one, e.g. header injection", async () => {
    for (const bad of ["a b@example.com", "a@example.com\nBcc: victim@example.com", '"q"@example.com', "a@-x.com", "a@x..com", "<a>@x.com"]) {
      await refusedOn(newUser({ email: bad }), "user_create.email", /valid email/);
    }
    const u = await newUser({ email: "first.last+tag@mail.example.com" });
    assert.equal(u.email, "first.last+tag@mail.example.com");
  });

  it("a group named '.', '..' or all digits cannot pass for a directory or a GID", async () => {
    for (const bad of [".", "..", "0", "1234"]) await refusedOn(a.call("group.create", { name: bad }), "group_create.name");
    const gid = await a.call<number>("group.create", { name: uniq("g") });
    await refusedOn(a.call("group.update", gid, { name: "1000" }), "group_update.name");
    await a.call("group.create", { name: `1${uniq("g")}` }); // a leading digit alone is fine (shadow-utils)
  });

  it("a user name with a control character, '.' or '..' or all digits is refused", async () => {
    for (const bad of ["a\nb", "a\u0000", ".", "..", "1234", "a".repeat(33)]) await refusedOn(newUser({ username: bad }), "user_create.username");
  });

  it("a sudo entry sudoers cannot hold as written is refused, not silently dropped (a newline cannot add a rule)", async () => {
    const cases: [string, RegExp][] = [
      ["/usr/bin/id\nALL ALL=(ALL) NOPASSWD: ALL", /Control characters/],
      ["/usr/bin/id\u0000", /Control characters/],
      ["ALL /usr/bin/id", /ALL takes no arguments/],
      ["/usr/bin/sudoedit /etc/hosts", /without a path/],
      ["sudoedit etc/hosts", /absolute/],
      [`/usr/bin/id "" -u`, /empty argument/],
      ["/usr/bin/id " + "x".repeat(1100), /1024/],
    ];
    for (const [cmd, msg] of cases) {
      await refusedOn(newUser({ sudo_commands: [cmd] }), "user_create.sudo_commands.0", msg);
      await refusedOn(a.call("group.create", { name: uniq("g"), sudo_commands_nopasswd: [cmd] }), "group_create.sudo_commands_nopasswd.0", msg);
    }
    await refusedOn(newUser({ sudo_commands: Array.from({ length: 257 }, () => "/usr/bin/id") }), "user_create.sudo_commands");
    // sudoedit is written without a path (sudoers(5)), and rendered as given.
    const u = await newUser({ sudo_commands: ["sudoedit /etc/hosts", "/usr/bin/id -u"] });
    await provisionNow(ts.app);
    const sudoers = readFileSync(path.join(ts.config.hostRoot, "etc/sudoers.d/gatehouse"), "utf8");
    assert.ok(sudoers.includes(`${u.username} ALL=(ALL) sudoedit /etc/hosts, /usr/bin/id -u\n`), sudoers);
  });

  it("an SSH key with options sshd does not know, or a control character, cannot reach authorized_keys", async () => {
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@host";
    const withHome = () => {
      const username = uniq("k");
      return { username, home: `${root}/${username}`, home_create: true };
    };
    await newUser({ ...withHome(), sshpubkey: `no-pty,command="/usr/bin/true" ${key}` });
    for (const bad of [`bogus="x" ${key}`, `no-pty="1" ${key}`, `command=/bin/sh ${key}`, `no-pty, ${key}`, `${key}\u0000`, `${key}\rcommand="/bin/sh" ${key}`]) {
      await refusedOn(newUser({ ...withHome(), sshpubkey: bad }), "user_create.sshpubkey", /Invalid SSH public key/);
    }
    await refusedOn(newUser({ ...withHome(), sshpubkey: `${key}\n`.repeat(500) }), "user_create.sshpubkey");
  });

  it("a TOTP window above 10 cannot widen the codes a guess may hit (departure: the reference has no bound)", async () => {
    await refusedOn(a.call("auth.twofactor.update", { window: 11 }), "auth_twofactor_update.window");
    await refusedOn(a.call("auth.twofactor.update", { window: 1_000_000 }), "auth_twofactor_update.window");
    await a.call("auth.twofactor.update", { window: 10 });
    assert.equal((await a.call("auth.twofactor.config")).window, 10);
    await a.call("auth.twofactor.update", { window: 0 });
  });

  it("a user cannot fill the store or every auth.me through auth.set_attribute (64 keys, 4 KiB each)", async () => {
    await refusedOn(a.call("auth.set_attribute", "big", "x".repeat(4097)), "value", /4096/);
    await refusedOn(a.call("auth.set_attribute", "k\u0000", 1), "key");
    await a.call("auth.set_attribute", "__proto__", { polluted: true }); // stored as a key, no prototype change
    const held = Object.keys((await a.call<any>("auth.me")).attributes ?? {}).length;
    for (let i = 0; i < 64 - held; i++) await a.call("auth.set_attribute", `k${i}`, { i });
    await refusedOn(a.call("auth.set_attribute", "one-more", 1), "key", /64/);
    await a.call("auth.set_attribute", "k0", "replaced"); // an existing key may still change
    const me = await a.call<any>("auth.me");
    assert.equal(me.attributes.k0, "replaced");
    assert.deepEqual(Object.getOwnPropertyDescriptor(me.attributes, "__proto__")?.value, { polluted: true });
    assert.equal(({} as any).polluted, undefined);
  });

  it("filesystem.mkdir cannot make a setuid, setgid, sticky or world-writable directory, nor a '.'/'..'/control-character name", async () => {
    for (const mode of ["4755", "2755", "1777", "777", "0757", "6777"]) {
      await refusedOn(a.call("filesystem.mkdir", { path: `${root}/${uniq("m")}`, options: { mode } }), "filesystem_mkdir.options.mode");
    }
    for (const p of [`${root}/..`, `${root}/.`, `${root}/a\nb`, `${root}/a\u0000b`, `${root}/x\u202e`]) {
      await refusedOn(a.call("filesystem.mkdir", { path: p }), "filesystem_mkdir.path");
    }
    const ok = await a.call<any>("filesystem.mkdir", { path: `${root}/${uniq("m")}`, options: { mode: "750" } });
    assert.equal(ok.mode & 0o7777, 0o750);
  });

  it("deeply nested parameters answer EINVAL naming the field, never EFAULT (no stack overflow)", async () => {
    const c = await RpcClient.connect(ts.url);
    try {
      assert.equal((await c.login("admin", (await import("../harness.js")).ADMIN_PASSWORD)).response_type, "SUCCESS");
      const deep = (n: number) => "[".repeat(n) + "1" + "]".repeat(n);
      const cases: [string, string, string][] = [
        ["user.create", `[{"username":"x","full_name":${deep(20000)}}]`, "user_create.full_name"],
        ["auth.set_attribute", `["k",${deep(20000)}]`, "value"],
        ["user.query", `[${deep(20000)}]`, "filters"],
        ["group.create", `[{"name":"g","users":${deep(100)}}]`, "group_create.users"],
      ];
      let id = 1000;
      for (const [method, params, attr] of cases) {
        const r = await c.sendRaw(`{"jsonrpc":"2.0","id":${++id},"method":"${method}","params":${params}}`);
        assert.equal(r.error?.data?.errname, "EINVAL", `${method}: ${JSON.stringify(r).slice(0, 300)}`);
        assert.ok(r.error.data.extra[0][0].startsWith(attr), `${method}: ${r.error.data.extra[0][0]}`);
      }
      // A filter tree nested past query-filters' own bound (16 OR levels) is refused too.
      let f: unknown = ["username", "=", "x"];
      for (let i = 0; i < 17; i++) f = ["OR", [[f], [["uid", "=", i]]]];
      const err = await rpcError(c.call("user.query", [f]));
      assert.equal(err.data?.errname, "EINVAL");
      // A wide filter list (SQLite nests `a AND b AND …` one level per term, up to 1000) is refused
      // as input, not failed as an internal error; a large but sane one answers.
      const wide = (n: number) => Array.from({ length: n }, (_, i) => ["uid", "!=", i + 5_000_000]);
      const tooWide = await rpcError(c.call("user.query", wide(2000)));
      assert.equal(tooWide.data?.errname, "EINVAL");
      assert.match(tooWide.extra[0][1], /too many conditions/);
      assert.equal(tooWide.extra.length, 1);
      assert.ok((await c.call<any[]>("user.query", wide(250))).length > 0);
      assert.ok(
        await c.call("core.ping").then(
          () => true,
          () => true,
        ),
        "the server still answers",
      );
    } finally {
      await c.close();
    }
  });

  it("a query with thousands of sort keys or selected fields answers EINVAL, not an internal error", async () => {
    const e1 = await rpcError(a.call("user.query", [], { order_by: Array(3000).fill("username") }));
    assert.equal(e1.data?.errname, "EINVAL");
    assert.match(e1.extra[0][1], /sort keys/);
    const e2 = await rpcError(a.call("user.query", [], { select: Array.from({ length: 3000 }, (_, i) => ["username", `a${i}`]) }));
    assert.equal(e2.data?.errname, "EINVAL");
    assert.ok((await a.call<any[]>("user.query", [], { order_by: ["-uid", "username"], select: ["username"] })).length > 0);
  });

  it("over-long paths answer EINVAL on filesystem.listdir, filesystem.mkdir and a home directory", async () => {
    const longName = `${root}/${"a".repeat(300)}`; // one component over NAME_MAX
    const longPath = root + "/aaaaaaaa".repeat(520); // over PATH_MAX
    for (const p of [longName, longPath]) {
      await refusedOn(a.call("filesystem.listdir", p), "path", /too long/);
      await refusedOn(a.call("filesystem.mkdir", { path: p }), "filesystem_mkdir.path", /too long/);
      await refusedOn(newUser({ home: p, home_create: true }), "user_create.home");
    }
  });

  it("a short password cannot be set by default (minimum length 8, a setting)", async () => {
    await refusedOn(newUser({ password: "Ab-1234" }), "user_create.password", /minimum password length is 8/);
    const u = await newUser({ password: "Ab-12345" });
    await refusedOn(a.call("user.update", u.id, { password: "Qz-9" }), "user_update.password", /minimum/);
    await refusedOn(a.call("user.set_password", { username: u.username, new_password: "Qz-9" }), "user.set_password.new_password", /minimum/);
    assert.equal((await a.call("system.security.config")).min_password_length, 8);
  });

  it("the first administrator cannot be set up with a short password (the policy applies before any login)", async () => {
    const fresh = await startServer({ store });
    try {
      const anon = await fresh.client();
      await refusedOn(anon.call("user.setup_local_administrator", "admin", "Ab-1"), "password", /minimum password length is 8/);
      assert.equal(await anon.call("user.has_local_administrator_set_up"), false, "nothing was half-written");
    } finally {
      await fresh.stop();
    }
  });

  it("a privilege or API key name with a control or bidi character cannot disguise itself in the UI and logs", async () => {
    for (const bad of ["ops\nFULL_ADMIN", "x\u202e", "x\u0000"]) {
      await refusedOn(a.call("privilege.create", { name: bad, local_groups: [], ds_groups: [], roles: [], web_shell: false }), "privilege_create.name");
      await refusedOn(a.call("api_key.create", { name: bad, username: "admin" }), "api_key_create.name");
    }
  });

  it("after every refused attack the provisioned passwd, group, shadow and sudoers stay well-formed", async () => {
    await provisionNow(ts.app);
    const etc = path.join(ts.config.hostRoot, "etc");
    const fields: Record<string, number> = { passwd: 7, group: 4, shadow: 9 };
    for (const [file, n] of Object.entries(fields)) {
      const text = readFileSync(path.join(etc, file), "utf8");
      assert.ok(text.endsWith("\n"), file);
      for (const line of text.slice(0, -1).split("\n")) {
        assert.equal(line.split(":").length, n, `${file}: ${JSON.stringify(line)}`);
        assert.doesNotMatch(line, /[\x00-\x1f\x7f]/, `${file}: control character in ${JSON.stringify(line)}`);
      }
    }
    const passwd = readFileSync(path.join(etc, "passwd"), "utf8");
    assert.ok(!passwd.includes("root2"), "no injected passwd line");
    const sudoers = path.join(etc, "sudoers.d/gatehouse");
    const r = spawnSync("visudo", ["-cf", sudoers], { encoding: "utf8" });
    assert.equal(r.status, 0, `visudo: ${r.stdout}${r.stderr}`);
    assert.doesNotMatch(readFileSync(sudoers, "utf8"), /NOPASSWD: ALL\n[\s\S]*ALL ALL=/);
  });
});
