// filesystem.stat (issue 14 point 1): the attributes of one path inside a storage root, links
// never followed — a 750 directory reads as 750, a link reads as a link, a link on the way and
// `..` or an outside path are refused, a missing path is told apart — and only for callers with
// FILESYSTEM_ATTRS_READ.

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { clientWithRoles, forEachStore, rpcError, startServer, type TestServer } from "./harness.js";
import type { RpcClient } from "../src/cli/client.js";

forEachStore("filesystem.stat", (store) => {
  let ts: TestServer;
  let a: RpcClient;
  let base: string;
  let mnt: string;
  let outside: string;

  before(async () => {
    base = realpathSync(mkdtempSync(path.join(os.tmpdir(), "gatehouse-stat-")));
    mnt = path.join(base, "mnt");
    outside = path.join(base, "outside");
    for (const d of [path.join(mnt, "homes", "ada"), path.join(outside, "x")]) mkdirSync(d, { recursive: true });
    chmodSync(path.join(mnt, "homes", "ada"), 0o750);
    symlinkSync(outside, path.join(mnt, "escape"));
    ts = await startServer({ store, config: { storageRoots: [mnt] } });
    a = await ts.adminClient();
  });
  after(async () => {
    await ts.stop();
    rmSync(base, { recursive: true, force: true });
  });

  const codeOf = async (p: Promise<unknown>) => (await rpcError(p)).codes;

  it("a home's real mode, owner and type", async () => {
    const st = await a.call<any>("filesystem.stat", path.join(mnt, "homes", "ada"));
    assert.equal(st.type, "DIRECTORY");
    assert.equal(st.mode & 0o7777, 0o750);
    assert.equal(st.realpath, path.join(mnt, "homes", "ada"));
    assert.equal(typeof st.uid, "number");
    assert.equal(st.is_mountpoint, false);
    const root = await a.call<any>("filesystem.stat", mnt);
    assert.equal(root.type, "DIRECTORY");
  });

  it("a link is reported as a link, never followed", async () => {
    const st = await a.call<any>("filesystem.stat", path.join(mnt, "escape"));
    assert.equal(st.type, "SYMLINK");
  });

  it("refuses a link on the way, `..`, an outside or relative path; tells a missing path apart", async () => {
    assert.deepEqual(await codeOf(a.call("filesystem.stat", path.join(mnt, "escape", "x"))), ["filesystem.outside_storage_roots"]);
    assert.deepEqual(await codeOf(a.call("filesystem.stat", `${mnt}/../outside/x`)), ["filesystem.outside_storage_roots"]);
    assert.deepEqual(await codeOf(a.call("filesystem.stat", outside)), ["filesystem.outside_storage_roots"]);
    assert.deepEqual(await codeOf(a.call("filesystem.stat", "mnt/homes")), ["filesystem.path_not_absolute"]);
    assert.deepEqual(await codeOf(a.call("filesystem.stat", path.join(mnt, "homes", "nobody"))), ["filesystem.not_found"]);
    assert.deepEqual(await codeOf(a.call("filesystem.stat", path.join(mnt, "nothing", "deeper"))), ["filesystem.not_found"]);
  });

  it("needs FILESYSTEM_ATTRS_READ", async () => {
    const { client: plain } = await clientWithRoles(ts, ["ACCOUNT_WRITE"]);
    const e = await rpcError(plain.call("filesystem.stat", mnt));
    assert.equal(e.errname, "EACCES");
    const { client: reader } = await clientWithRoles(ts, ["FILESYSTEM_ATTRS_READ"]);
    assert.equal((await reader.call<any>("filesystem.stat", mnt)).type, "DIRECTORY");
  });
});
