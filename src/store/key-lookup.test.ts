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

// Later runs of a lookup's statement on a connection skip its row description (./pg-described.ts):
// their rows must be node-pg's own, and a table changed under the statement must not leave it
// failing.
if (process.env.GATEHOUSE_TEST_PG)
  test("[postgres] a key lookup's rows are node-pg's on every run, and a changed table is read again", async () => {
    const url = await freshPgDatabase();
    const store = await openStore({ url, dataDir: os.tmpdir() });
    const plain = new pg.Client({ connectionString: url });
    await plain.connect();
    try {
      await plain.query(`create table t (id bigint primary key, n int, s text, b boolean, j json, ts timestamptz, arr int[], "__x" text)`);
      await plain.query(`insert into t values (1, 7, 'a"b\\c', true, '{"k":[1]}', '2020-01-02T03:04:05Z', '{1,2}', null), (2, null, null, null, null, null, null, 'y')`);
      // Duplicate names: node-pg keeps the first place and the last value.
      const text = `select *, n as "dup", s as "dup", 1::bigint as "one" from t where id = ANY($1::bigint[]) order by id`;
      const expected = (await plain.query(text, [[1, 2, 3]])).rows;
      for (let i = 0; i < 4; i++) {
        const rows = await readKeyLookup<Record<string, unknown>>(store.db, text, [[1, 2, 3]]);
        assert.deepEqual(rows, expected, `run ${i + 1}`);
        assert.deepEqual(
          rows.map((r) => Object.keys(r)),
          expected.map((r) => Object.keys(r)),
          `run ${i + 1}: key order`,
        );
      }
      assert.deepEqual(await readKeyLookup(store.db, text, [[]]), [], "no values, no rows");
      await assert.rejects(readKeyLookup(store.db, text, [["nan"]]), /invalid input syntax/, "a value PostgreSQL refuses fails the lookup");
      assert.deepEqual(await readKeyLookup(store.db, text, [[2]]), expected.slice(1), "and the connection goes on");
      // Another process changes the table under the prepared statement: at most one failure per
      // connection (PostgreSQL's "cached plan must not change result type"), then the new rows.
      await plain.query(`alter table t add column extra text default 'e'`);
      const changed = (await plain.query(text, [[1, 2]])).rows;
      let failures = 0;
      for (let i = 0; i < 6; i++) {
        try {
          assert.deepEqual(await readKeyLookup(store.db, text, [[1, 2]]), changed);
        } catch (err) {
          assert.equal((err as { code?: string }).code, "0A000", String(err));
          failures++;
        }
      }
      assert.ok(failures <= 2, `${failures} failures`);
      assert.deepEqual(await readKeyLookup(store.db, text, [[1, 2]]), changed);
    } finally {
      await plain.end();
      await store.close();
      const drop = new pg.Client({ connectionString: process.env.GATEHOUSE_TEST_PG });
      await drop.connect();
      await drop.query(`drop database if exists ${new URL(url).pathname.slice(1)} with (force)`);
      await drop.end();
    }
  });
