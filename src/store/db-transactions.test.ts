// A store transaction on SQLite against another connection to the same file (another server
// process, the CLI): it must never fail for having read before another connection's commit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { openStore } from "./db.js";
import { sqlitePathOf } from "./private-dir.js";

test("SQLite: a transaction that reads, then writes, holds the write lock from its BEGIN (another connection cannot commit in between and make its write fail)", async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "gh-db-tx-"));
  const store = await openStore({ dataDir });
  // Another process's connection: it does not wait for a lock, so a held lock shows at once.
  const other = new Database(sqlitePathOf(dataDir));
  other.pragma("busy_timeout = 0");
  const insertOther = other.prepare("insert into settings (key, value) values (?, ?)");
  try {
    let otherCommitted: boolean | null = null;
    await store.db.transaction().execute(async (trx) => {
      await trx.selectFrom("settings").select("key").execute();
      try {
        insertOther.run("other.write", "1");
        otherCommitted = true;
      } catch (err) {
        assert.equal((err as { code?: string }).code, "SQLITE_BUSY");
        otherCommitted = false;
      }
      // With a deferred BEGIN the other connection's commit made this snapshot stale, and this
      // write failed at once with SQLITE_BUSY (busy_timeout does not apply to that case).
      await trx.insertInto("settings").values({ key: "store.write", value: "1" }).execute();
    });
    assert.equal(otherCommitted, false, "the other connection committed inside the transaction");
    const keys = (await store.db.selectFrom("settings").select("key").where("key", "in", ["store.write", "other.write"]).execute()).map((r) => r.key);
    assert.deepEqual(keys, ["store.write"]);
    // Once the transaction ended, the other connection writes as usual.
    insertOther.run("other.write", "1");
  } finally {
    other.close();
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
