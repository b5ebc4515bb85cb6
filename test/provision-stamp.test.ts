// Full runs and the store's change feed: a full run with nothing changed since the model was last
// read in full skips the store read (and still writes whatever differs on disk); any change —
// by this process, by another connection that sends no hint, or one this process could not hear
// about (PostgreSQL listener down) — makes the next full run read.

import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { FILES, generateAll } from "../src/provision/generate.js";
import { Provisioner, type ProvisionContext, type RunResult } from "../src/provision/provisioner.js";
import { checkDrift, contextOf, provisionNow, provisionerOf } from "../src/provision/index.js";
import { readSnapshot } from "../src/provision/snapshot.js";
import type { ChangeFeed } from "../src/store/change-feed.js";
import type { Db } from "../src/store/db.js";
import { forEachStore, startServer, type TestServer } from "./harness.js";
import { insertGroup, insertUser, waitFor } from "./provision-helpers.js";
import { changeOf, EVERYTHING } from "../src/store/change-event.js";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl stamp@gatehouse";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tmp = () => mkdtempSync(path.join(os.tmpdir(), "gh-prov-stamp-"));

/** The Kysely instance with a count of the read transactions started on it (readSnapshot opens one). */
function countingDb(db: Db): { db: Db; reads: () => number } {
  let n = 0;
  const proxy = new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === "transaction") n++;
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return { db: proxy, reads: () => n };
}

/** Run `sql` on a connection of its own (not this process's pool): no hint reaches the server. */
async function otherConnection(ts: TestServer, store: string, statement: string): Promise<void> {
  if (store === "sqlite") {
    const db = new Database(path.join(ts.dataDir, "private", "gatehouse.db"));
    try {
      db.pragma("busy_timeout = 5000");
      db.prepare(statement).run();
    } finally {
      db.close();
    }
    return;
  }
  const c = new pg.Client({ connectionString: ts.config.database! });
  await c.connect();
  try {
    await c.query(statement);
  } finally {
    await c.end();
  }
}

/** Every generated file equals, byte for byte, what the pure generators make of the store. */
async function assertFilesAreStore(ts: TestServer, hostRoot = ts.config.hostRoot): Promise<void> {
  const want = generateAll(await readSnapshot(ts.app.store.db, ts.app.store.dialect));
  for (const f of FILES) {
    assert.equal(readFileSync(path.join(hostRoot, f.rel), "utf8"), want[f.id], `${f.rel} equals the generators' output`);
  }
}

forEachStore("full runs and the change stamp", (store) => {
  test("nothing changed: the full run skips the store read and still rewrites removed or altered files byte for byte", async () => {
    const ts = await startServer({ store });
    try {
      const app = ts.app;
      const db = app.store.db;
      // a user whose authorized_keys live in a storage root
      const home = path.join(ts.config.storageRoots[0], "keyed");
      mkdirSync(home, { recursive: true });
      const g = await insertGroup(db, { name: "keyed", gid: 3400 });
      await insertUser(db, { username: "keyed", uid: 3400, group_id: g, home, sshpubkey: KEY, locked: true });
      app.changed(EVERYTHING);
      await provisionerOf(app).whenIdle();
      const keys = path.join(home, ".ssh/authorized_keys");
      assert.equal(readFileSync(keys, "utf8"), `${KEY}\n`, "keys written");

      // the provisioner's own full runs, counted at the store
      const counted = countingDb(db);
      const ctx: ProvisionContext = { ...contextOf(app), db: counted.db };
      const p = new Provisioner(ctx, { reconcileMs: 0 });
      try {
        const first = await p.provisionNow();
        assert.equal(first.skippedRead, false, "a new provisioner reads the store");
        assert.equal(counted.reads(), 1, "one read");
        await sleep(50); // any announcement still on its way (PostgreSQL) arrives
        let again: RunResult = await p.provisionNow();
        if (!again.skippedRead) again = await p.provisionNow(); // a late announcement of an earlier commit
        assert.equal(again.skippedRead, true, "nothing changed: no read");
        const reads = counted.reads();

        // damage the files: removed, hand-edited, wrong mode, replaced; and the keys file removed
        const f = (rel: string) => path.join(ts.config.hostRoot, rel);
        unlinkSync(f("etc/passwd"));
        writeFileSync(f("etc/shadow"), `${readFileSync(f("etc/shadow"), "utf8")}intruder::0:0:99999:7:::\n`);
        chmodSync(f("etc/group"), 0o666);
        writeFileSync(f("etc/ssh/sshd_config.d/gatehouse.conf"), "PasswordAuthentication yes\n");
        unlinkSync(keys);
        assert.ok((await checkDrift(app)).length >= 4, "the damage is drift");
        const r = await p.provisionNow();
        assert.equal(r.skippedRead, true, "still no read: the store did not change");
        assert.equal(counted.reads(), reads, "the store was not read");
        assert.deepEqual(
          r.written.map((w) => path.relative(ts.config.hostRoot, w)).sort(),
          ["etc/group", "etc/passwd", "etc/shadow", "etc/ssh/sshd_config.d/gatehouse.conf", path.relative(ts.config.hostRoot, keys)].sort(),
          "exactly the damaged files are written",
        );
        await assertFilesAreStore(ts);
        for (const spec of FILES) assert.equal(statSync(f(spec.rel)).mode & 0o7777, spec.mode, `${spec.rel} mode`);
        assert.equal(readFileSync(keys, "utf8"), `${KEY}\n`, "keys restored");
        assert.deepEqual(await checkDrift(app), [], "no drift left");

        // a change by this process moves the stamp: the next full run reads
        await db.updateTable("users").set({ full_name: "Changed Here" }).where("username", "=", "keyed").execute();
        const after = await p.provisionNow();
        assert.equal(after.skippedRead, false, "a change made here: read");
        assert.match(readFileSync(f("etc/passwd"), "utf8"), /^keyed:x:3400:3400:Changed Here:/m, "the change is written");
      } finally {
        await p.stop();
      }
    } finally {
      await ts.stop();
    }
  });

  test("a change by raw SQL on another connection (no hint) is picked up by the next full run", async () => {
    const ts = await startServer({ store });
    try {
      const app = ts.app;
      const p = provisionerOf(app);
      await p.whenIdle();
      await provisionNow(app);
      await sleep(50);
      let r = await provisionNow(app);
      if (!r.skippedRead) r = await provisionNow(app);
      assert.equal(r.skippedRead, true, "settled: nothing to read");
      const before = app.store.changes.stamp();
      await otherConnection(ts, store, "update users set full_name = 'Raw Other' where username = 'root'");
      // PostgreSQL: the other connection's commit reaches this process as a notification
      await waitFor(() => app.store.changes.stamp() !== before, "the change feed to notice the other connection's commit", 5000, 5);
      const after = await provisionNow(app);
      assert.equal(after.skippedRead, false, "the store was read");
      assert.match(readFileSync(path.join(ts.config.hostRoot, "etc/passwd"), "utf8"), /^root:x:0:0:Raw Other:/m, "the other connection's change is on disk");
      await assertFilesAreStore(ts);
    } finally {
      await ts.stop();
    }
  });

  test("an incremental run makes the next full run read, even when the stamp has not moved", async () => {
    const ts = await startServer({ store });
    const dir = tmp();
    try {
      const app = ts.app;
      await provisionerOf(app).whenIdle();
      // a feed whose stamp never moves, and one that cannot track changes
      const frozen: Pick<ChangeFeed, "stamp" | "onRemoteChange"> = { stamp: () => "frozen", onRemoteChange: () => () => {} };
      const p = new Provisioner({ ...contextOf(app), hostRoot: dir, changes: frozen }, { reconcileMs: 0, debounceMs: 0 });
      try {
        assert.equal((await p.provisionNow()).skippedRead, false, "first run reads");
        assert.equal((await p.provisionNow()).skippedRead, true, "same stamp: skipped");
        const db = app.store.db;
        const g = await insertGroup(db, { name: "incr", gid: 3500 });
        const id = await insertUser(db, { username: "incr", uid: 3500, group_id: g });
        p.notify(changeOf({ users: [id], groups: [g] }));
        await p.whenIdle();
        assert.equal(p.lastResult?.full, false, "the hinted change ran incrementally");
        assert.match(readFileSync(path.join(dir, "etc/passwd"), "utf8"), /^incr:x:3500:3500:/m, "written incrementally");
        const full = await p.provisionNow();
        assert.equal(full.skippedRead, false, "after an incremental run the full run reads");
        assert.equal((await p.provisionNow()).skippedRead, true, "and then may skip again");
        await assertFilesAreStore(ts, dir);
      } finally {
        await p.stop();
      }
      const blind: Pick<ChangeFeed, "stamp" | "onRemoteChange"> = { stamp: () => null, onRemoteChange: () => () => {} };
      const q = new Provisioner({ ...contextOf(app), hostRoot: dir, changes: blind }, { reconcileMs: 0 });
      try {
        assert.equal((await q.provisionNow()).skippedRead, false, "no stamp: read");
        assert.equal((await q.provisionNow()).skippedRead, false, "no stamp: read again");
      } finally {
        await q.stop();
      }
    } finally {
      await ts.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  if (store === "postgres") {
    test("[postgres] another process's commit starts a full run by itself (remoteMs)", async () => {
      const ts = await startServer({ store });
      const dir = tmp();
      try {
        const app = ts.app;
        await provisionerOf(app).whenIdle();
        const p = new Provisioner({ ...contextOf(app), hostRoot: dir }, { reconcileMs: 0, remoteMs: 20 });
        try {
          await p.provisionNow();
          await otherConnection(ts, store, "update users set full_name = 'Announced' where username = 'root'");
          await waitFor(() => /^root:x:0:0:Announced:/m.test(readFileSync(path.join(dir, "etc/passwd"), "utf8")), "the announced change on disk", 10_000);
          assert.equal(p.lastResult?.full, true, "a full run wrote it");
          assert.equal(p.lastResult?.skippedRead, false, "after reading the store");
        } finally {
          await p.stop();
        }
      } finally {
        await ts.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test("[postgres] while the change listener is down every full run reads", async () => {
      const ts = await startServer({ store });
      try {
        const app = ts.app;
        await provisionerOf(app).whenIdle();
        await provisionNow(app);
        await sleep(50);
        let r = await provisionNow(app);
        if (!r.skippedRead) r = await provisionNow(app);
        assert.equal(r.skippedRead, true, "settled: nothing to read");
        await otherConnection(ts, store, "select pg_terminate_backend(pid) from pg_stat_activity where query = 'LISTEN gatehouse_changes' and datname = current_database()");
        await waitFor(() => app.store.changes.stamp() === null, "the listener to be down", 5000, 5);
        // a change nobody announces: the listener is gone
        await otherConnection(ts, store, "update users set full_name = 'Unheard' where username = 'root'");
        const a = await provisionNow(app);
        assert.equal(a.skippedRead, false, "no stamp: read");
        assert.match(readFileSync(path.join(ts.config.hostRoot, "etc/passwd"), "utf8"), /^root:x:0:0:Unheard:/m, "the unannounced change is on disk");
        if (app.store.changes.stamp() === null) assert.equal((await provisionNow(app)).skippedRead, false, "still no stamp: read again");
        // listening again (reconnecting moved the stamp): runs may skip again
        await waitFor(() => app.store.changes.stamp() !== null, "the listener to reconnect", 10_000, 20);
        await provisionNow(app);
        assert.equal((await provisionNow(app)).skippedRead, true, "listening again: nothing changed, no read");
        await assertFilesAreStore(ts);
      } finally {
        await ts.stop();
      }
    });
  }
});
