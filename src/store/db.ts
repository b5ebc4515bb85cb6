// The store: Kysely over better-sqlite3 (embedded, default) or pg (PostgreSQL). One schema,
// built by the versioned migrations in ./migrations. Every change runs in one transaction.

import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { CompiledQuery, Kysely, PostgresDialect, SqliteDialect, type Transaction } from "kysely";
import type { Database as Schema } from "./schema.js";
import { runMigrations } from "./migrations/index.js";
import { QueryCache } from "./query-cache.js";
import { changesWatchedTables, endsTransaction, PgChangeFeed, SqliteChangeFeed, type ChangeFeed } from "./change-feed.js";
import { CommitTracker, type CommitSink } from "./own-commits.js";
import { ensurePrivateSqliteFile, sqlitePathOf } from "./private-dir.js";
import { rowMakerOf, runDescribed, type RowMaker } from "./pg-described.js";

import type { Dialect } from "./migrations/migration.js";

export type { Dialect };
export type Db = Kysely<Schema>;
export type Tx = Transaction<Schema> | Kysely<Schema>;

export interface Store {
  db: Db;
  dialect: Dialect;
  /** Human description for logs (never includes a password). */
  describe: string;
  /** Tells whether the store changed since a stamp was taken (./change-feed.ts). */
  changes: ChangeFeed;
  /** Reusable query results, valid while `changes` says nothing changed. */
  queryCache: QueryCache | null;
  close(): Promise<void>;
}

// PostgreSQL bigint (our epoch-ms timestamps) and numeric arrive as strings by default.
pg.types.setTypeParser(20, (v) => Number(v));

/**
 * better-sqlite3 compiles a statement on every `prepare`. Kysely prepares each query it runs, so
 * cache compiled statements by SQL text: the hot lookups then cost one bound execution.
 */
function cachingSqlite(db: Database.Database, onWrite: () => void, commits: CommitTracker): Database.Database {
  const written = () => {
    onWrite();
    commits.write();
  };
  // One connection, and Kysely runs nothing else while a transaction is open: counting a write
  // when it runs (even if it is rolled back later) is enough.
  const cache = new Map<string, Database.Statement>();
  const prepare = db.prepare.bind(db);
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === "exec") {
        return (sql: string) => {
          if (changesWatchedTables(sql)) written();
          return target.exec(sql);
        };
      }
      if (prop === "prepare") {
        return (sql: string) => {
          let st = cache.get(sql);
          if (!st) {
            // Kysely opens every transaction with a deferred BEGIN. One that reads and then writes
            // after another connection (another process, the CLI) committed meanwhile fails at once
            // with SQLITE_BUSY ("database is locked"): busy_timeout cannot help a transaction
            // whose snapshot is already stale. BEGIN IMMEDIATE takes the write lock first, so the
            // transaction waits its turn instead. (Long reads use connections of their own.)
            st = prepare(sql === "begin" ? "begin immediate" : sql);
            if (!st.readonly && changesWatchedTables(sql)) {
              // Every statement that changes a watched table invalidates cached query results,
              // however it is run (INSERT … RETURNING is run with all()).
              wrapRuns(st, written);
            } else if (CommitTracker.follows(sql)) {
              // Transaction bounds and recorded events: told once the statement succeeded.
              wrapRuns(st, undefined, (args) => commits.ran(sql, args[0]));
            }
            if (cache.size > 2000) cache.clear();
            cache.set(sql, st);
          }
          return st;
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

/** Make a statement's run/all/get/iterate call `before` first and `after` once they returned. */
function wrapRuns(st: Database.Statement, before?: () => void, after?: (args: unknown[]) => void): void {
  const target = st as unknown as Record<"run" | "all" | "get" | "iterate", (...a: unknown[]) => unknown>;
  for (const m of ["run", "all", "get", "iterate"] as const) {
    const original = target[m].bind(st);
    target[m] = (...args: unknown[]) => {
      before?.();
      const r = original(...args);
      after?.(args);
      return r;
    };
  }
}

/** Statement kinds PostgreSQL can prepare under a name. */
const PREPARABLE = /^\s*(select|insert|update|delete|with)\b/i;
/** Named statements one pooled connection keeps at most (each costs the server some memory). */
const MAX_NAMED_PER_CLIENT = 500;
const statementNames = new Map<string, string>();

function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `gh_${createHash("sha1").update(text).digest("hex")}`;
    if (statementNames.size > 5000) statementNames.clear();
    statementNames.set(text, name);
  }
  return name;
}

/** Per instrumented client: the texts it runs unnamed (a table changed under their prepared plan). */
const unnamedTexts = new WeakMap<pg.PoolClient, Set<string>>();

/**
 * Two things on every pooled PostgreSQL client:
 *
 * - Statements run as named prepared statements, so the server parses and plans each distinct
 *   text once per connection instead of on every call (the user lookup spends 1.2 ms planning
 *   and 0.2 ms executing). Texts are parameterised (values are always bound), so their number is
 *   bounded by the query shapes in use; a connection names at most MAX_NAMED_PER_CLIENT of them.
 * - The change feed moves when a statement that changes a watched table completes, and again when
 *   the transaction it ran in ends (before the caller resumes): this process then never serves a
 *   cached result older than a write it has seen commit, even before the write's NOTIFY arrives.
 *   At each commit the connection's CommitTracker tells the feed whether the transaction's writes
 *   were described by the event it recorded (./own-commits.ts).
 */
function instrumentPgClient(client: pg.PoolClient, onWrite: () => void, sink: CommitSink): void {
  const commits = new CommitTracker(sink);
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  const named = new Set<string>();
  const unnamed = new Set<string>();
  unnamedTexts.set(client, unnamed);
  let dirty = false;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const first = args[0] as string | { text?: unknown } | undefined;
    const text = typeof first === "string" ? first : typeof first?.text === "string" ? first.text : null;
    let result: unknown;
    const plain = typeof first === "string" && args.length <= 2 && (args[1] === undefined || Array.isArray(args[1]));
    if (plain && PREPARABLE.test(first) && !unnamed.has(first)) {
      const name = statementName(first as string);
      if (named.has(name) || named.size < MAX_NAMED_PER_CLIENT) {
        named.add(name);
        result = (query({ name, text: first as string, values: (args[1] as unknown[] | undefined) ?? [] }) as Promise<unknown>).catch((err: { code?: string }) => {
          // A table changed under a prepared plan (another process migrated): run this text
          // unnamed on this connection from now on.
          if (err?.code === "0A000") unnamed.add(first as string);
          throw err;
        });
      }
    }
    result ??= query(...args);
    let after: (() => void) | null = null;
    if (text !== null && changesWatchedTables(text)) {
      dirty = true;
      after = () => {
        onWrite();
        commits.write();
      };
    } else if (text !== null) {
      const ends = dirty && endsTransaction(text);
      const follows = CommitTracker.follows(text);
      if (ends || follows) {
        const values = args[1];
        after = () => {
          if (ends) {
            dirty = false;
            onWrite();
          }
          // Told at completion: a session check that reads after this sees the commit.
          if (follows) commits.ran(text, values);
        };
      }
    }
    if (!after) return result;
    if (result && typeof (result as Promise<unknown>).finally === "function") return (result as Promise<unknown>).finally(after);
    after();
    return result;
  };
}

/**
 * PostgreSQL: the pool for key lookups (readKeyLookup), by store. Its connections run named
 * statements with generic plans (plan_cache_mode = force_generic_plan): a batched key lookup
 * (`col = ANY($1)`) otherwise gets a custom plan every time — PostgreSQL's cost check never
 * prefers the generic plan for an array of unknown length — and planning it (~0.4 ms: the user
 * select's correlated subqueries) costs several times executing it (~0.1 ms). Only statements
 * whose plan does not depend on their values go there; everything else keeps the main pool.
 */
const lookupPools = new WeakMap<Db, { open: () => pg.Pool; close: () => Promise<void> }>();
/** Connections of a lookup pool: the batched lookups running at once (src/accounts/entity-query.ts). */
const LOOKUP_POOL_SIZE = 2;

/**
 * Run a read whose best plan is the same for every value (a lookup by a unique key, values bound)
 * outside any transaction: on PostgreSQL on the key-lookup pool (generic plans, see lookupPools),
 * elsewhere — SQLite, or `db` a transaction — as any statement of `db`.
 */
export async function readKeyLookup<Row>(db: Db, text: string, params: unknown[]): Promise<Row[]> {
  const lookups = lookupPools.get(db);
  if (!lookups) return (await db.executeQuery<Row>(CompiledQuery.raw(text, params))).rows;
  const client = await lookups.open().connect();
  try {
    return (await lookupOn(client, text, params)) as Row[];
  } finally {
    client.release();
  }
}

/** Per lookup-pool client, by statement text: how its rows are made (null: node-pg's own way). */
const rowMakers = new WeakMap<pg.PoolClient, Map<string, RowMaker | null>>();

/**
 * A key lookup on a client of the lookup pool. The first run of a text on a connection is asked as
 * Kysely asks (text, values): a named statement (instrumentPgClient), described; later runs of
 * that prepared statement skip the description (./pg-described.ts).
 */
async function lookupOn(client: pg.PoolClient, text: string, params: unknown[]): Promise<unknown[]> {
  let makers = rowMakers.get(client);
  if (!makers) rowMakers.set(client, (makers = new Map()));
  const make = makers.get(text);
  const name = statementName(text);
  const prepared = (client as unknown as { connection: { parsedStatements: Record<string, string> } }).connection.parsedStatements[name] === text;
  if (make && prepared && !unnamedTexts.get(client)?.has(text)) {
    try {
      return await runDescribed(client, name, make, params);
    } catch (err) {
      // A table changed under the prepared plan (another process migrated): from now on this text
      // runs unnamed on this connection, as instrumentPgClient does after the same error.
      if ((err as { code?: string })?.code === "0A000") {
        unnamedTexts.get(client)?.add(text);
        makers.set(text, null);
      }
      throw err;
    }
  }
  const result = await client.query(text, params);
  if (make === undefined) makers.set(text, rowMakerOf(result.fields));
  return result.rows;
}

/**
 * SQLite: the store's one connection, for reads that stream rows synchronously (provisioning's
 * full read, src/provision/snapshot.ts) — Kysely hands rows over as whole arrays or one async
 * step per row. Reads only; writes go through Kysely (the change feed watches them there).
 */
const sqliteHandles = new WeakMap<Db, Database.Database>();
export function sqliteHandleOf(db: Db): Database.Database | undefined {
  return sqliteHandles.get(db);
}

/**
 * The SQLite connection when a statement may run on it at once, synchronously: open and no
 * transaction open there (Kysely's, between its statements — a write would join it and a read see
 * its uncommitted rows). Undefined on PostgreSQL, or when the caller must take the awaited way.
 */
export function freeSqliteHandle(db: Db): Database.Database | undefined {
  const raw = sqliteHandles.get(db);
  return raw?.open && !raw.inTransaction ? raw : undefined;
}

export interface OpenOptions {
  /** postgres://… URL; absent ⇒ SQLite file in dataDir's private directory (./private-dir.ts). */
  url?: string | null;
  dataDir: string;
  /** SQLite file name override (":memory:" for tests). */
  sqliteFile?: string;
  /** Registers extra SQL functions on SQLite (e.g. regexp). */
  sqliteFunctions?: (db: Database.Database) => void;
}

/** The key-lookup pool of a PostgreSQL store, opened at its first lookup (two connections more per process). */
function lookupPoolOf(url: string, changes: PgChangeFeed): { open: () => pg.Pool; close: () => Promise<void> } {
  let pool: pg.Pool | null = null;
  let closed = false;
  return {
    open: () => {
      if (pool) return pool;
      if (closed) throw new Error("the store is closed");
      pool = storePool(url, changes, { max: LOOKUP_POOL_SIZE, options: "-c plan_cache_mode=force_generic_plan" });
      return pool;
    },
    close: async () => {
      closed = true;
      await pool?.end();
      pool = null;
    },
  };
}

/** A pool of this process's connections to the store: instrumented (instrumentPgClient), known to the change feed as its own. */
function storePool(url: string, changes: PgChangeFeed, opts: { max: number; options?: string }): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, ...opts });
  // An idle pooled connection that dies (the server restarted, an administrator ended it) is
  // reported here and dropped by the pool; the next query opens a new one. Unheeded, pg would
  // throw it as an uncaught exception and end the process.
  pool.on("error", () => {});
  pool.on("connect", (client) => {
    instrumentPgClient(client, () => changes.localWrite(), changes);
    changes.ownBackend((client as unknown as { processID?: number }).processID, true);
  });
  pool.on("remove", (client) => changes.ownBackend((client as unknown as { processID?: number }).processID, false));
  return pool;
}

export async function openStore(opts: OpenOptions): Promise<Store> {
  let store: Store;
  if (opts.url && /^postgres(ql)?:\/\//.test(opts.url)) {
    const changes = new PgChangeFeed(opts.url);
    const pool = storePool(opts.url, changes, { max: 10 });
    const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
    const lookups = lookupPoolOf(opts.url, changes);
    lookupPools.set(db, lookups);
    const u = new URL(opts.url);
    const queryCache = new QueryCache(() => changes.stamp());
    store = {
      db,
      dialect: "postgres",
      describe: `postgres://${u.host}${u.pathname}`,
      changes,
      queryCache,
      close: async () => {
        await changes.close();
        await lookups.close();
        await db.destroy();
      },
    };
  } else {
    const file = opts.sqliteFile ?? sqlitePathOf(opts.dataDir);
    if (file !== ":memory:") {
      // Callers normally prepared (and repaired) the private directory first; a new one is 0700,
      // and the store file 0600 whatever the umask (SQLite gives -wal/-shm the same mode).
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      ensurePrivateSqliteFile(file);
    }
    const raw = new Database(file);
    raw.pragma("journal_mode = WAL");
    raw.pragma("synchronous = NORMAL");
    raw.pragma("foreign_keys = ON");
    raw.pragma("busy_timeout = 5000");
    opts.sqliteFunctions?.(raw);
    const dataVersion = raw.prepare("PRAGMA data_version").pluck();
    const changes = new SqliteChangeFeed(() => dataVersion.get() as number);
    const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: cachingSqlite(raw, () => changes.localWrite(), new CommitTracker(changes)) }) });
    sqliteHandles.set(db, raw);
    const queryCache = new QueryCache(() => changes.stamp());
    store = { db, dialect: "sqlite", describe: `sqlite:${file}`, changes, queryCache, close: () => db.destroy() };
  }
  await runMigrations(store.db, store.dialect);
  if (store.changes instanceof PgChangeFeed) await store.changes.start();
  return store;
}

/** Run `fn` in one transaction. */
export function transaction<T>(db: Db, fn: (trx: Transaction<Schema>) => Promise<T>): Promise<T> {
  return db.transaction().execute(fn);
}
