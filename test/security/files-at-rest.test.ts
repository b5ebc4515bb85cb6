// Threat: another local account on the host reads the store (password hashes, TOTP secrets, API-key
// hashes) or the key that seals other systems' credentials, because the files were created under a
// permissive umask or loosened later; or a server process with another key joins a shared store and
// seals values the others cannot open (or opens nothing the others sealed).
// Guarantee: the store and the key live in <data-dir>/private (0700; files 0600 whatever the umask),
// looser modes are repaired at start and logged, an old-layout store is moved in, and a process
// whose key does not match the store's fingerprint refuses to start with a clear message. The rest
// of the data dir (the demo's host root and storage root) stays reachable.

import { it } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { forEachStore, startServer } from "../harness.js";
import { startServerProcess } from "../process-harness.js";
import { PASSWORD } from "../auth-helpers.js";

const mode = (p: string) => statSync(p).mode & 0o7777;
const tmpDataDir = () => mkdtempSync(path.join(os.tmpdir(), "gh-rest-"));

/** Start must fail: returns the error text (exit status and the process's output). */
async function refusedStart(opts: Parameters<typeof startServerProcess>[0]): Promise<string> {
  try {
    const p = await startServerProcess(opts);
    await p.stop();
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail("the server process started, but it should have refused");
}

forEachStore("security: files at rest", (store) => {
  it("another local user cannot read the store or the key, even under umask 000 (0700 directory, 0600 files)", async () => {
    const old = process.umask(0);
    let ts;
    try {
      ts = await startServer({ store });
    } finally {
      process.umask(old);
    }
    try {
      const a = await ts.adminClient();
      await a.call("user.create", { username: "rest1", full_name: "R", password: PASSWORD, group_create: true }); // a write: -wal/-shm exist
      const priv = path.join(ts.dataDir, "private");
      assert.equal(mode(priv), 0o700);
      const files = readdirSync(priv);
      assert.ok(files.includes("secret.key"), files.join(","));
      if (store === "sqlite") for (const f of ["gatehouse.db", "gatehouse.db-wal", "gatehouse.db-shm"]) assert.ok(files.includes(f), `${f} in ${files}`);
      for (const f of files) assert.equal(mode(path.join(priv, f)), 0o600, f);
      assert.equal(statSync(path.join(priv, "secret.key")).size, 32);
      assert.ok(!existsSync(path.join(ts.dataDir, "gatehouse.db")), "no store outside the private directory");
      // The data dir itself is not writable by others (they could swap `private`), yet traversable.
      assert.equal(mode(ts.dataDir) & 0o022, 0);
    } finally {
      await ts.stop();
    }
  });

  it("modes loosened after the fact are repaired at start, and the repair is logged", async () => {
    const dataDir = tmpDataDir();
    try {
      const first = await startServerProcess({ store, dataDir });
      const databaseUrl = first.databaseUrl;
      await first.stop();
      const priv = path.join(dataDir, "private");
      chmodSync(dataDir, 0o777);
      chmodSync(priv, 0o777);
      for (const f of readdirSync(priv)) chmodSync(path.join(priv, f), 0o666);
      const second = await startServerProcess({ databaseUrl, dataDir });
      try {
        assert.equal(mode(priv), 0o700);
        for (const f of readdirSync(priv)) assert.equal(mode(path.join(priv, f)), 0o600, f);
        assert.equal(mode(dataDir) & 0o022, 0);
        const out = second.output();
        assert.match(out, /repaired the mode of the private directory/);
        assert.match(out, /repaired the mode of a private file/);
        assert.match(out, /repaired the mode of the data directory/);
        const a = await second.adminClient(); // and the server works
        assert.ok(await a.call("user.query"));
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  if (store === "sqlite") {
    // The old layout existed only for the embedded store.
    it("a store left at the old place (<data-dir>/gatehouse.db, with its WAL) is moved into the private directory, data intact", async () => {
      const dataDir = tmpDataDir();
      try {
        const first = await startServerProcess({ dataDir });
        const a = await first.adminClient();
        await a.call("user.create", { username: "oldlayout", full_name: "Old", password: PASSWORD, group_create: true });
        await first.stop();
        // Recreate the layout of a release before the private directory: store files in the data
        // dir, no key file, no key fingerprint in the store.
        const db = new Database(path.join(dataDir, "private", "gatehouse.db"));
        db.prepare("delete from settings where key = 'secret_box.key_fingerprint'").run();
        db.close();
        for (const f of readdirSync(path.join(dataDir, "private"))) {
          if (f.startsWith("gatehouse.db")) renameSync(path.join(dataDir, "private", f), path.join(dataDir, f));
        }
        rmSync(path.join(dataDir, "private"), { recursive: true });
        chmodSync(path.join(dataDir, "gatehouse.db"), 0o644);
        const second = await startServerProcess({ dataDir });
        try {
          assert.match(second.output(), /moved the store into the private directory/);
          assert.ok(!readdirSync(dataDir).some((f) => f.startsWith("gatehouse.db")), "nothing left at the old place");
          assert.equal(mode(path.join(dataDir, "private", "gatehouse.db")), 0o600);
          const b = await second.adminClient();
          assert.equal((await b.call<any[]>("user.query", [["username", "=", "oldlayout"]])).length, 1);
        } finally {
          await second.stop();
        }
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });

    it("a store copied to another data dir without its key refuses to start (never re-keys silently)", async () => {
      const dataDir = tmpDataDir();
      const copy = tmpDataDir();
      try {
        const first = await startServerProcess({ dataDir });
        await first.stop();
        mkdirSync(path.join(copy, "private"), { mode: 0o700 });
        copyFileSync(path.join(dataDir, "private", "gatehouse.db"), path.join(copy, "private", "gatehouse.db"));
        const missing = await refusedStart({ dataDir: copy });
        assert.match(missing, /exited \(1\)/);
        assert.match(missing, /secret\.key is missing/);
        writeFileSync(path.join(copy, "private", "secret.key"), randomBytes(32), { mode: 0o600 });
        const other = await refusedStart({ dataDir: copy });
        assert.match(other, /secret-box key mismatch/);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
        rmSync(copy, { recursive: true, force: true });
      }
    });
  }

  if (store === "postgres") {
    it("a process with another key cannot join a shared PostgreSQL; with the same key it can", async () => {
      const first = await startServerProcess({ store: "postgres" });
      const otherDir = tmpDataDir();
      const sameDir = tmpDataDir();
      try {
        // No key at all: refused, never a new key made for a store that has one.
        assert.match(await refusedStart({ databaseUrl: first.databaseUrl, dataDir: otherDir }), /secret\.key is missing/);
        // Another key file.
        mkdirSync(path.join(otherDir, "private"), { recursive: true, mode: 0o700 });
        writeFileSync(path.join(otherDir, "private", "secret.key"), randomBytes(32), { mode: 0o600 });
        const text = await refusedStart({ databaseUrl: first.databaseUrl, dataDir: otherDir });
        assert.match(text, /exited \(1\)/);
        assert.match(text, /secret-box key mismatch/);
        assert.match(text, /copy secret\.key from a server already using this store/);
        const key = readFileSync(path.join(first.dataDir, "private", "secret.key"));
        for (const enc of ["hex", "base64", "base64url"] as const) assert.ok(!text.includes(key.toString(enc)), "the message never holds a key");
        // The first process is unaffected, and a process given the same key joins.
        mkdirSync(path.join(sameDir, "private"), { mode: 0o700 });
        copyFileSync(path.join(first.dataDir, "private", "secret.key"), path.join(sameDir, "private", "secret.key"));
        const second = await startServerProcess({ databaseUrl: first.databaseUrl, dataDir: sameDir });
        try {
          const a = await first.adminClient();
          const b = await second.adminClient();
          assert.deepEqual((await a.call<any[]>("user.query")).length, (await b.call<any[]>("user.query")).length);
        } finally {
          await second.stop();
        }
      } finally {
        await first.stop();
        rmSync(otherDir, { recursive: true, force: true });
        rmSync(sameDir, { recursive: true, force: true });
      }
    });
  }
});
