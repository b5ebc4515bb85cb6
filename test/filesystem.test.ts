// filesystem.* (the home-directory browser's server side): storage_roots, listdir inside the
// storage roots with query-filters/options, the refusals (outside a root, `..` and symlink
// escapes, a file, a missing path), mkdir, its audit entry, and roles.

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { clientWithRoles, forEachStore, rpcError, startServer, type TestServer } from "./harness.js";
import type { RpcClient } from "../src/cli/client.js";

const ENTRY_KEYS = ["acl", "allocation_size", "gid", "is_ctldir", "is_mountpoint", "mode", "name", "path", "realpath", "size", "type", "uid"];

forEachStore("filesystem", (store) => {
  let ts: TestServer;
  let a: RpcClient;
  let base: string;
  let mnt: string;
  let tank: string;
  let outside: string;

  before(async () => {
    base = realpathSync(mkdtempSync(path.join(os.tmpdir(), "gatehouse-fs-")));
    mnt = path.join(base, "mnt");
    tank = path.join(base, "tank");
    outside = path.join(base, "outside");
    for (const d of [mnt, tank, outside, path.join(mnt, "alpha"), path.join(mnt, "beta", "deep"), path.join(mnt, "gamma")]) mkdirSync(d, { recursive: true });
    writeFileSync(path.join(mnt, "notes.txt"), "hello");
    writeFileSync(path.join(outside, "secret"), "x");
    symlinkSync(path.join(mnt, "alpha"), path.join(mnt, "to-alpha"));
    symlinkSync(outside, path.join(mnt, "escape"));
    symlinkSync(path.join(base, "nowhere"), path.join(mnt, "dangling"));
    ts = await startServer({ store, config: { storageRoots: [mnt, tank, path.join(base, "not-yet")] } });
    a = await ts.adminClient();
  });
  after(async () => {
    await ts.stop();
    rmSync(base, { recursive: true, force: true });
  });

  const ERRNO: Record<string, number> = { EINVAL: 22, ENOENT: 2, ENOTDIR: 20, EEXIST: 17 };
  /** A validation error (-32602) with one [attribute, message, errno] triple, of the stable `code`. */
  const refusal = async (p: Promise<unknown>, attr: string, code: string, errname: string) => {
    const e = await rpcError(p);
    assert.equal(e.code, -32602, `validation error: ${e.message}`);
    assert.equal(e.extra.length, 1, JSON.stringify(e.extra));
    assert.equal(e.extra[0][0], attr);
    assert.deepEqual(e.codes, [code], e.extra[0][1]);
    assert.equal(e.extra[0][2], ERRNO[errname], `errno ${errname}`);
  };

  it("storage_roots lists the configured roots", async () => {
    assert.deepEqual(await a.call("filesystem.storage_roots"), [mnt, tank, path.join(base, "not-yet")]);
  });

  it("listdir: entries of a storage root, symlinks not followed", async () => {
    const rows = await a.call<any[]>("filesystem.listdir", mnt, [], { order_by: ["name"] });
    assert.deepEqual(
      rows.map((r) => [r.name, r.type]),
      [
        ["alpha", "DIRECTORY"],
        ["beta", "DIRECTORY"],
        ["dangling", "SYMLINK"],
        ["escape", "SYMLINK"],
        ["gamma", "DIRECTORY"],
        ["notes.txt", "FILE"],
        ["to-alpha", "SYMLINK"],
      ],
    );
    for (const r of rows) {
      assert.deepEqual(Object.keys(r).sort(), ENTRY_KEYS);
      assert.equal(r.path, path.join(mnt, r.name));
      assert.equal(r.acl, false);
      assert.equal(r.is_ctldir, false);
      assert.equal(r.is_mountpoint, false);
      assert.equal(r.uid, process.getuid!());
    }
    const by = Object.fromEntries(rows.map((r) => [r.name, r]));
    const st = statSync(path.join(mnt, "alpha"));
    assert.equal(by.alpha.mode, st.mode);
    assert.equal(by.alpha.gid, st.gid);
    assert.equal(by.alpha.realpath, path.join(mnt, "alpha"));
    assert.equal(by["notes.txt"].size, 5);
    assert.ok(by["notes.txt"].allocation_size >= 0);
    // A link inside the roots reports its target; one leading out (or nowhere) only itself.
    assert.equal(by["to-alpha"].realpath, path.join(mnt, "alpha"));
    assert.equal(by.escape.realpath, path.join(mnt, "escape"));
    assert.equal(by.dangling.realpath, path.join(mnt, "dangling"));
    assert.ok(!JSON.stringify(rows).includes(outside), "nothing outside the roots is reported");
    // Subdirectories, the second root, and a path with a trailing slash / `..` that stays inside.
    assert.deepEqual(
      (await a.call<any[]>("filesystem.listdir", path.join(mnt, "beta"))).map((r) => r.path),
      [path.join(mnt, "beta", "deep")],
    );
    assert.deepEqual(await a.call("filesystem.listdir", tank), []);
    assert.deepEqual(
      (await a.call<any[]>("filesystem.listdir", `${mnt}/gamma/../beta/`)).map((r) => r.path),
      [path.join(mnt, "beta", "deep")],
    );
    // A symlink to a directory inside the roots can be listed.
    assert.deepEqual(await a.call("filesystem.listdir", path.join(mnt, "to-alpha")), []);
  });

  it("listdir: query-filters and query-options", async () => {
    const dirs = await a.call<any[]>("filesystem.listdir", mnt, [["type", "=", "DIRECTORY"]], { order_by: ["name"] });
    assert.deepEqual(
      dirs.map((r) => r.name),
      ["alpha", "beta", "gamma"],
    );
    const desc = await a.call<any[]>("filesystem.listdir", mnt, [["type", "=", "DIRECTORY"]], { order_by: ["-name"], limit: 2 });
    assert.deepEqual(
      desc.map((r) => r.name),
      ["gamma", "beta"],
    );
    assert.equal(await a.call("filesystem.listdir", mnt, [["type", "=", "SYMLINK"]], { count: true }), 3);
    const one = await a.call<any>("filesystem.listdir", mnt, [["name", "=", "notes.txt"]], { get: true, select: ["name", "size"] });
    assert.deepEqual(one, { name: "notes.txt", size: 5 });
    const e = await rpcError(a.call("filesystem.listdir", mnt, [["type", "~~", "x"]]));
    assert.equal(e.code, -32602);
  });

  it("listdir: refusals outside the roots, escapes, files and missing paths", async () => {
    const p = (x: string) => a.call("filesystem.listdir", x);
    await refusal(p("/etc"), "path", "filesystem.outside_storage_roots", "EINVAL");
    await refusal(p(base), "path", "filesystem.outside_storage_roots", "EINVAL");
    await refusal(p(outside), "path", "filesystem.outside_storage_roots", "EINVAL");
    await refusal(p(`${mnt}/..`), "path", "filesystem.outside_storage_roots", "EINVAL");
    await refusal(p(`${mnt}/alpha/../../outside`), "path", "filesystem.outside_storage_roots", "EINVAL");
    await refusal(p(`${mnt}x`), "path", "filesystem.outside_storage_roots", "EINVAL");
    await refusal(p(path.join(mnt, "escape")), "path", "filesystem.outside_storage_roots", "EINVAL");
    await refusal(p(path.join(mnt, "escape", "nothing-here")), "path", "filesystem.outside_storage_roots", "EINVAL");
    await refusal(p("mnt/alpha"), "path", "filesystem.path_not_absolute", "EINVAL");
    await refusal(p(path.join(mnt, "notes.txt")), "path", "filesystem.not_a_directory", "ENOTDIR");
    await refusal(p(path.join(mnt, "missing")), "path", "filesystem.not_found", "ENOENT");
    await refusal(p(path.join(mnt, "dangling")), "path", "filesystem.not_found", "ENOENT");
    // A configured root that does not exist yet reads as missing, not as outside.
    await refusal(p(path.join(base, "not-yet")), "path", "filesystem.not_found", "ENOENT");
    await refusal(p(path.join(base, "not-yet", "x")), "path", "filesystem.not_found", "ENOENT");
    const noArg = await rpcError(a.call("filesystem.listdir"));
    assert.deepEqual(noArg.extra[0].slice(0, 2), ["path", "Field required"]);
  });

  it("mkdir: inside a root only, with mode, audited", async () => {
    const target = path.join(mnt, "homes");
    const entry = await a.call<any>("filesystem.mkdir", { path: target, options: { mode: "750" } });
    assert.equal(entry.type, "DIRECTORY");
    assert.equal(entry.path, target);
    assert.equal(entry.name, "homes");
    assert.equal(statSync(target).mode & 0o7777, 0o750);
    assert.equal(entry.mode, statSync(target).mode);
    // Default mode 755; the new folder is listed.
    await a.call("filesystem.mkdir", { path: path.join(target, "staff") });
    assert.equal(statSync(path.join(target, "staff")).mode & 0o777, 0o755);
    assert.deepEqual(
      (await a.call<any[]>("filesystem.listdir", target, [["type", "=", "DIRECTORY"]])).map((r) => r.name),
      ["staff"],
    );
    // Through a symlink that stays inside.
    await a.call("filesystem.mkdir", { path: path.join(mnt, "to-alpha", "linked") });
    assert.ok(statSync(path.join(mnt, "alpha", "linked")).isDirectory());

    const m = (x: string, options?: object) => a.call("filesystem.mkdir", options ? { path: x, options } : { path: x });
    const attr = "filesystem_mkdir.path";
    await refusal(m(target), attr, "filesystem.exists", "EEXIST");
    await refusal(m(path.join(mnt, "dangling")), attr, "filesystem.exists", "EEXIST");
    await refusal(m(path.join(mnt, "missing", "child")), attr, "filesystem.not_found", "ENOENT");
    await refusal(m(path.join(base, "not-yet", "child")), attr, "filesystem.not_found", "ENOENT");
    await refusal(m(path.join(outside, "made")), attr, "filesystem.outside_storage_roots", "EINVAL");
    await refusal(m(`${mnt}/../made`), attr, "filesystem.outside_storage_roots", "EINVAL");
    await refusal(m(path.join(mnt, "escape", "made")), attr, "filesystem.outside_storage_roots", "EINVAL");
    await refusal(m(mnt), attr, "filesystem.storage_root_itself", "EINVAL");
    await refusal(m(path.join(mnt, "notes.txt", "x")), attr, "filesystem.not_a_directory", "ENOTDIR");
    assert.ok(!existsSync(path.join(outside, "made")) && !existsSync(path.join(base, "made")), "nothing made outside the roots");
    const badMode = await rpcError(m(path.join(mnt, "odd"), { mode: "999" }));
    assert.equal(badMode.extra[0][0], "filesystem_mkdir.options.mode");
    assert.ok(!existsSync(path.join(mnt, "odd")));

    // One entry for the call that made it, one (failed) for the repeat.
    let audit: any[] = [];
    for (let i = 0; i < 50 && audit.length < 2; i++) {
      const rows = await ts.app.store.db.selectFrom("audit").selectAll().where("event", "=", "METHOD_CALL").orderBy("id", "asc").execute();
      audit = rows.map((r) => ({ ...r, event_data: JSON.parse(r.event_data) })).filter((r) => r.event_data.method === "filesystem.mkdir" && r.event_data.description === `Filesystem mkdir ${target}`);
      if (audit.length < 2) await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(
      audit.map((r) => !!r.success),
      [true, false],
      "METHOD_CALL audit entries",
    );
  });

  it("roles: a read-only administrator lists but may not mkdir; ACCOUNT_WRITE may", async () => {
    const ro = await clientWithRoles(ts, ["READONLY_ADMIN"]);
    assert.deepEqual(await ro.client.call("filesystem.storage_roots"), [mnt, tank, path.join(base, "not-yet")]);
    assert.ok((await ro.client.call<any[]>("filesystem.listdir", mnt)).length > 0);
    const denied = await rpcError(ro.client.call("filesystem.mkdir", { path: path.join(mnt, "ro-made") }));
    assert.equal(denied.errname, "EACCES");
    assert.equal(denied.errorCode, "core.not_authorized");
    assert.ok(!existsSync(path.join(mnt, "ro-made")));

    const reader = await clientWithRoles(ts, ["ACCOUNT_READ"]);
    assert.ok((await reader.client.call<any[]>("filesystem.listdir", mnt)).length > 0);
    assert.equal((await rpcError(reader.client.call("filesystem.mkdir", { path: path.join(mnt, "r-made") }))).errname, "EACCES");

    const attrs = await clientWithRoles(ts, ["FILESYSTEM_ATTRS_READ"]);
    assert.deepEqual(await attrs.client.call("filesystem.storage_roots"), [mnt, tank, path.join(base, "not-yet")]);

    const writer = await clientWithRoles(ts, ["ACCOUNT_WRITE"]);
    const made = await writer.client.call<any>("filesystem.mkdir", { path: path.join(tank, "w-made") });
    assert.equal(made.type, "DIRECTORY");
    const dataWriter = await clientWithRoles(ts, ["FILESYSTEM_DATA_WRITE"]);
    await dataWriter.client.call("filesystem.mkdir", { path: path.join(tank, "d-made") });
    assert.equal((await rpcError(dataWriter.client.call("filesystem.storage_roots"))).errname, "EACCES");

    const other = await clientWithRoles(ts, ["SHARING_SMB_READ"]);
    assert.equal((await rpcError(other.client.call("filesystem.listdir", mnt))).errname, "EACCES");
  });
});
