// A PostgreSQL store survives its idle pooled connections dying (the database server restarted,
// an administrator ended them): the pool drops them and the next query opens a new connection.
// Before the pool had an error listener, pg threw such an error as an uncaught exception, which
// ends a server process (a CI run saw it when another test ended connections it did not own).

import { test } from "node:test";
import assert from "node:assert/strict";
import os from "node:os";
import pg from "pg";
import { sql } from "kysely";
import { freshPgDatabase } from "../../test/harness.js";
import { openStore } from "./db.js";

// PostgreSQL only, as every store test: npm test starts one (GATEHOUSE_TEST_PG).
if (process.env.GATEHOUSE_TEST_PG)
  test("[postgres] idle pooled connections ended by the server: no crash, the next query reconnects", async () => {
    const url = await freshPgDatabase();
    const store = await openStore({ url, dataDir: os.tmpdir() });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      // Several connections in the pool, idle after these queries.
      await Promise.all([1, 2, 3].map(() => sql`select pg_sleep(0.05)`.execute(store.db)));
      const ended = await admin.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()");
      assert.ok(ended.rowCount! >= 3, `ended ${ended.rowCount} connections`);
      // The pool hears of it on its idle connections (the error an unheeded pool would throw).
      await new Promise((r) => setTimeout(r, 300));
      const r = await sql<{ one: number }>`select 1 as one`.execute(store.db);
      assert.equal(r.rows[0]!.one, 1);
    } finally {
      await admin.end();
      await store.close();
      const drop = new pg.Client({ connectionString: process.env.GATEHOUSE_TEST_PG });
      await drop.connect();
      await drop.query(`drop database if exists ${new URL(url).pathname.slice(1)} with (force)`);
      await drop.end();
    }
  });
