import { test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "kysely";
import { freshPgDatabase, withTestApp } from "../../test/harness.js";
import { param, prepare } from "./prepared.js";

const STORES = process.env.GATEHOUSE_TEST_PG ? ["sqlite", "postgres"] : ["sqlite"];

const insertCounter = prepare<[string, number, number]>()(3, (db) =>
  db
    .insertInto("counters")
    .values({ key: param(0), count: param(1), window_start: param(2), locked_until: null })
    .compile(),
);
// Arguments used out of order and twice, beside constants that stay as compiled.
const countersBetween = prepare<[number, number]>()(2, (db) =>
  db
    .selectFrom("counters")
    .select(["key", "count"])
    .where("count", ">=", param<number>(1))
    .where("window_start", "=", 7)
    .where("count", "<=", param<number>(0))
    .where("count", "<", param<number>(0) + 0)
    .orderBy("key")
    .compile(),
);

for (const store of STORES) {
  test(`[${store}] prepared queries: arguments bound by position, constants kept, in and out of transactions`, async () => {
    await withTestApp(store === "postgres" ? await freshPgDatabase() : undefined, async (app) => {
      const db = app.store.db;
      await insertCounter.execute(db, "a", 1, 7);
      await insertCounter.execute(db, "b", 5, 7);
      await insertCounter.execute(db, "c", 9, 7);
      await insertCounter.execute(db, "d", 5, 8);
      // `param(0) + 0` is the string placeholder with "0" appended: not an argument, so the
      // statement is refused rather than compiled with a wrong value.
      await assert.rejects(countersBetween.rows(db, 9, 1), /every argument must be a bound parameter/, "a placeholder that is not a bound parameter is refused");

      const between = prepare<[number, number]>()(2, (d) =>
        d.selectFrom("counters").select(["key", "count"]).where("count", ">=", param<number>(1)).where("window_start", "=", 7).where("count", "<=", param<number>(0)).orderBy("key").compile(),
      );
      assert.deepEqual(
        (await between.rows(db, 5, 1)).map((r) => r.key),
        ["a", "b"],
        "max 5, min 1, window 7",
      );
      assert.deepEqual(
        (await between.rows(db, 9, 5)).map((r) => r.key),
        ["b", "c"],
        "max 9, min 5, window 7",
      );
      assert.equal(await between.first(db, 0, 0), undefined, "no row");

      await db.transaction().execute(async (trx) => {
        await insertCounter.execute(trx, "e", 6, 7);
        assert.deepEqual(
          (await between.rows(trx, 6, 6)).map((r) => r.key),
          ["e"],
          "sees the transaction's own row",
        );
      });
      await assert.rejects(
        db.transaction().execute(async (trx) => {
          await insertCounter.execute(trx, "f", 6, 7);
          throw new Error("roll back");
        }),
        /roll back/,
      );
      assert.deepEqual(
        (await between.rows(db, 6, 6)).map((r) => r.key),
        ["e"],
        "the rolled-back row is gone",
      );

      const raw = prepare<[number]>()(1, (d) => sql<{ n: number }>`select count(*) as "n" from "counters" where "count" = ${param(0)}`.compile(d));
      assert.equal(Number((await raw.first(db, 5))!.n), 2, "raw SQL takes placeholders too");

      const missing = prepare<[number, number]>()(2, (d) => d.selectFrom("counters").select("key").where("count", "=", param<number>(0)).compile());
      await assert.rejects(missing.rows(db, 1, 2), /every argument must be a bound parameter/, "an argument the SQL does not use is refused");
    });
  });
}

test("prepared queries compile once per store, so SQLite and PostgreSQL stores in one process each get their own SQL", { skip: !process.env.GATEHOUSE_TEST_PG }, async () => {
  const one = prepare<[string]>()(1, (d) => d.selectFrom("settings").select("key").where("key", "=", param<string>(0)).compile());
  await withTestApp(undefined, async (lite) => {
    await withTestApp(await freshPgDatabase(), async (pgApp) => {
      for (const app of [lite, pgApp, lite, pgApp]) {
        assert.equal(
          (await one.first(app.store.db, "system.security"))?.key ?? null,
          (await app.store.db.selectFrom("settings").select("key").where("key", "=", "system.security").executeTakeFirst())?.key ?? null,
          `same answer as the builder on ${app.store.dialect}`,
        );
      }
    });
  });
});

for (const store of STORES) {
  test(`[${store}] rowsNow reads at once on SQLite when the connection is free, never inside another's transaction`, async () => {
    await withTestApp(store === "postgres" ? await freshPgDatabase() : undefined, async (app) => {
      const db = app.store.db;
      const byCount = prepare<[number]>()(1, (d) => d.selectFrom("counters").select("key").where("count", "=", param<number>(0)).orderBy("key").compile());
      await insertCounter.execute(db, "n1", 42, 7);
      if (store === "postgres") {
        assert.equal(byCount.rowsNow(db, 42), null, "PostgreSQL: always awaited");
        return;
      }
      assert.deepEqual(
        byCount.rowsNow(db, 42)?.map((r) => r.key),
        ["n1"],
        "the committed row, at once",
      );
      await db.transaction().execute(async (trx) => {
        await insertCounter.execute(trx, "n2", 42, 7);
        assert.equal(byCount.rowsNow(db, 42), null, "a transaction is open on the connection: not read (its uncommitted row would be seen)");
      });
      assert.deepEqual(
        byCount.rowsNow(db, 42)?.map((r) => r.key),
        ["n1", "n2"],
        "after its commit",
      );
      const watched = prepare<[string]>()(1, (d) => d.deleteFrom("settings").where("key", "=", param<string>(0)).compile());
      assert.throws(() => watched.runNow(db, "nothing"), /bypass the change feed/, "runNow refuses a write the change feed must count");
    });
  });
}
