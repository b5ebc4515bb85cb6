// Key lookups (readKeyLookup): on PostgreSQL they run on their own small pool whose connections
// plan with generic plans — a batched `= ANY($1)` lookup is otherwise planned afresh on every run
// (its planning costs several times its execution); elsewhere they are ordinary statements of
// the store (SQLite; a transaction, which must see its own writes).

import { test } from "node:test";
import assert from "node:assert/strict";
import os from "node:os";
import pg from "pg";
import { freshPgDatabase } from "../../test/harness.js";
import { openStore, readKeyLookup, transaction } from "./db.js";

test("[sqlite] a key lookup is an ordinary statement of the store, and inside a transaction sees its writes", async () => {
  const store = await openStore({ dataDir: os.tmpdir(), sqliteFile: ":memory:" });
  try {
    const [row] = await readKeyLookup<{ v: number }>(store.db, "select ? + 1 as v", [1]);
    assert.equal(row!.v, 2);
    await transaction(store.db, async (trx) => {
      await trx.insertInto("settings").values({ key: "k.lookup", value: '"x"' }).execute();
      const rows = await readKeyLookup<{ value: string }>(trx, `select "value" from "settings" where "key" = ?`, ["k.lookup"]);
      assert.deepEqual(rows, [{ value: '"x"' }], "the transaction's own write is seen");
    });
  } finally {
    await store.close();
  }
});

// PostgreSQL only, as every store test: npm test starts one (GATEHOUSE_TEST_PG).
if (process.env.GATEHOUSE_TEST_PG)
  test("[postgres] key lookups run with generic plans on their own pool; transactions and the main pool keep the default", async () => {
    const url = await freshPgDatabase();
    const store = await openStore({ url, dataDir: os.tmpdir() });
    try {
      const mode = async (db: Parameters<typeof readKeyLookup>[0]) => (await readKeyLookup<{ m: string }>(db, "select current_setting('plan_cache_mode') as m", []))[0]!.m;
      assert.equal(await mode(store.db), "force_generic_plan", "the lookup pool plans generically");
      await transaction(store.db, async (trx) => {
        assert.equal(await mode(trx), "auto", "a transaction's statement runs in the transaction, on the main pool");
        await trx.insertInto("settings").values({ key: "k.lookup", value: '"x"' }).execute();
        const rows = await readKeyLookup<{ value: string }>(trx, `select "value" from "settings" where "key" = $1`, ["k.lookup"]);
        assert.deepEqual(rows, [{ value: '"x"' }], "and sees the transaction's own write");
      });
      const rows = await readKeyLookup<{ value: string }>(store.db, `select "value" from "settings" where "key" = ANY($1::text[])`, [["k.lookup", "k.none"]]);
      assert.deepEqual(rows, [{ value: '"x"' }], "a committed write is seen by the lookup pool");
    } finally {
      await store.close();
      await assert.rejects(readKeyLookup(store.db, "select 1", []), "a closed store's lookup pool does not reopen");
      const drop = new pg.Client({ connectionString: process.env.GATEHOUSE_TEST_PG });
      await drop.connect();
      await drop.query(`drop database if exists ${new URL(url).pathname.slice(1)} with (force)`);
      await drop.end();
    }
  });
