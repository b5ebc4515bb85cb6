import { provisionerOf } from "../provision/index.js";
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import pino from "pino";
import { App } from "../app.js";
import { resolveConfig } from "../config.js";
import { callMethod } from "../server/rpc.js";
import { freshPgDatabase } from "../../test/harness.js";
import { testConnection } from "../../test/session-fixtures.js";
import { changesWatchedTables } from "./change-feed.js";
import { QueryCache } from "./query-cache.js";

async function withApp(fn: (app: App, dataDir: string, call: (m: string, ...p: unknown[]) => Promise<any>) => Promise<void>, database?: string) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "gh-qc-"));
  const app = await App.create({ ...resolveConfig({ dataDir, database, port: 0, hashRounds: 1000, logLevel: "silent" }, {}), failDelay: [0, 0] }, { log: pino({ level: "silent" }) });
  const conn = testConnection("t", "127.0.0.1:1");
  conn.session = app.auth.internalSession();
  try {
    await fn(app, dataDir, (m, ...p) => callMethod(app, conn, m, p, 1));
  } finally {
    await app.shutdown();
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const STORES = process.env.GATEHOUSE_TEST_PG ? ["sqlite", "postgres"] : ["sqlite"];

for (const store of STORES)
  test(`[${store}] user.query results are reused until this process writes (INSERT … RETURNING included)`, async () => {
    await withApp(
      async (app, _dir, call) => {
        const cache = app.store.queryCache!;
        assert.ok(cache, "the embedded store has a query cache");
        const q = () => call("user.query", [["username", "^", "qc"]], { order_by: ["username"] });
        // Start-up writes (the first provisioning run, settings sealed on first use) settle first:
        // on PostgreSQL their notifications may arrive after the first query.
        await provisionerOf(app).whenIdle();
        await new Promise((r) => setTimeout(r, 200));
        assert.deepEqual(await q(), []);
        const askedOnce = cache.hits;
        assert.deepEqual(await q(), []);
        assert.equal(cache.hits, askedOnce, "a question asked once was not kept (a stream of new questions keeps nothing)");
        const hits = cache.hits;
        assert.deepEqual(await q(), []);
        assert.equal(cache.hits, hits + 1, "a question asked again is kept: the third asking is a hit");
        await call("user.create", { username: "qc1", full_name: "Q C", password: "Qc-pass-1234", group_create: true, smb: false });
        assert.deepEqual(
          (await q()).map((u: any) => u.username),
          ["qc1"],
          "a create invalidates",
        );
        await call("user.update", (await q())[0].id, { full_name: "Changed" });
        assert.equal((await q())[0].full_name, "Changed", "an update invalidates");
        const [entry] = await q();
        assert.throws(() => {
          (entry as any).full_name = "mutated";
        }, "cached results are frozen");
        // Logins, sessions and audit entries write other tables: the cached result survives them.
        const before = cache.hits;
        await call("auth.generate_token", 60);
        await q();
        assert.equal(cache.hits, before + 1, "a write outside the account tables keeps the cache");
      },
      store === "postgres" ? await freshPgDatabase() : undefined,
    );
  });

test("statements that change account tables are told apart from the rest", () => {
  assert.equal(changesWatchedTables(`update "users" set "full_name" = ? where "id" = ?`), true);
  assert.equal(changesWatchedTables(`insert into "memberships" ("group_id", "user_id") values ($1, $2)`), true);
  assert.equal(changesWatchedTables(`delete from groups where id = 3`), true);
  assert.equal(changesWatchedTables(`select * from "users" where "username" = ?`), false);
  assert.equal(changesWatchedTables(`insert into "sessions" ("id") values (?)`), false);
  assert.equal(changesWatchedTables(`insert into "audit" ("event") values (?)`), false);
});

/** `read()` until `done(value)` or `ms` have passed; the last value. */
async function settle<T>(read: () => Promise<T>, done: (v: T) => boolean, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  let v = await read();
  while (!done(v) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
    v = await read();
  }
  return v;
}

if (process.env.GATEHOUSE_TEST_PG) {
  test("[postgres] another process's commit invalidates through NOTIFY; a dropped listener disables reuse", async () => {
    const url = await freshPgDatabase();
    await withApp(async (app, _dir, call) => {
      const cache = app.store.queryCache!;
      await call("user.create", { username: "qcpg", full_name: "Before", password: "Qc-pass-1234", group_create: true, smb: false });
      const q = async () => (await call("user.query", [["username", "=", "qcpg"]]))[0].full_name;
      assert.equal(await q(), "Before");
      assert.equal(await q(), "Before");
      const hits = cache.hits;
      assert.equal(await q(), "Before");
      assert.equal(cache.hits, hits + 1, "the repeated lookup is a hit");
      let remote = 0;
      const stop = app.store.changes.onRemoteChange(() => remote++);
      const other = new pg.Client({ connectionString: url });
      await other.connect();
      try {
        // This process's own commits are not announced to it as someone else's.
        await call("user.update", (await call("user.query", [["username", "=", "qcpg"]]))[0].id, { email: "qcpg@example.test" });
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(remote, 0, "own commit not reported as remote");
        await other.query("update users set full_name = 'After' where username = 'qcpg'");
        assert.equal(
          await settle(
            async () => remote,
            (v) => v > 0,
            2000,
          ),
          1,
          "another connection's commit is reported once",
        );
        // The NOTIFY is delivered at commit: allow it a moment to arrive.
        assert.equal(await settle(q, (v) => v === "After", 2000), "After", "the other connection's commit is seen");
        // Without the listening connection nothing is reused.
        // Only this test's database: other test files run beside this one on the same PostgreSQL.
        await other.query("select pg_terminate_backend(pid) from pg_stat_activity where query = 'LISTEN gatehouse_changes' and datname = current_database()");
        assert.equal(
          await settle(
            async () => app.store.changes.stamp(),
            (v) => v === null,
            2000,
          ),
          null,
          "no stamp while nobody listens",
        );
        const misses = cache.misses;
        await q();
        await q();
        assert.equal(cache.misses, misses + 2, "every lookup recomputed while nobody listens");
        // It reconnects by itself.
        assert.notEqual(
          await settle(
            async () => app.store.changes.stamp(),
            (v) => v !== null,
            5000,
          ),
          null,
          "listening again",
        );
        await other.query("update users set full_name = 'Again' where username = 'qcpg'");
        assert.equal(await settle(q, (v) => v === "Again", 2000), "Again", "changes are seen after reconnecting");
      } finally {
        stop();
        await other.end();
      }
    }, url);
  });
}

test("a commit by another connection (the CLI, another process) invalidates through data_version", async () => {
  await withApp(async (_app, dataDir, call) => {
    await call("user.create", { username: "qc2", full_name: "Before", password: "Qc-pass-1234", group_create: true, smb: false });
    const q = () => call("user.query", [["username", "=", "qc2"]]);
    assert.equal((await q())[0].full_name, "Before");
    assert.equal((await q())[0].full_name, "Before");
    const other = new Database(path.join(dataDir, "private", "gatehouse.db"));
    other.prepare("update users set full_name = 'After' where username = 'qc2'").run();
    other.close();
    // data_version is read once per turn of the event loop (a request that arrives later is a
    // later turn); this test runs the commit and the lookup in one turn, so it lets one pass.
    await new Promise((r) => setImmediate(r));
    assert.equal((await q())[0].full_name, "After");
  });
});

test("the admission filter remembers a first asking for at least 2 × max and at most 4 × max other first askings", async () => {
  const cache = new QueryCache(() => "stamp", 3);
  let computed = 0;
  const ask = (key: string) => cache.get(key, async () => ++computed);
  const others = async (n: number, tag: string) => {
    for (let i = 0; i < n; i++) await ask(`${tag}${i}`);
  };
  await ask("a");
  await others(2 * 3 - 1, "x");
  await ask("a"); // second asking, within 2 × max: kept
  const before = computed;
  await ask("a");
  assert.equal(computed, before, "the third asking is a hit");
  await ask("b");
  await others(4 * 3 + 1, "y");
  await ask("b"); // second asking beyond 4 × max: forgotten, counts as a first asking
  const again = computed;
  await ask("b");
  assert.equal(computed, again + 1, "not kept: computed again");
});
