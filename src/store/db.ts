// The store: Kysely over better-sqlite3 (embedded, default) or pg (PostgreSQL). One schema,
// built by the versioned migrations in ./migrations. Every change runs in one transaction.

import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { Kysely, PostgresDialect, SqliteDialect, type Transaction } from "kysely";
import type { Database as Schema } from "./schema.js";
import { runMigrations } from "./migrations/index.js";
import { QueryCache } from "./query-cache.js";

export type Dialect = "sqlite" | "postgres";
export type Db = Kysely<Schema>;
export type Tx = Transaction<Schema> | Kysely<Schema>;

export interface Store {
  db: Db;
  dialect: Dialect;
  /** Human description for logs (never includes a password). */
  describe: string;
  /** Reusable query results (embedded store only; null on PostgreSQL, shared by many processes). */
  queryCache: QueryCache | null;
  close(): Promise<void>;
}

// PostgreSQL bigint (our epoch-ms timestamps) and numeric arrive as strings by default.
pg.types.setTypeParser(20, (v) => Number(v));

/**
 * better-sqlite3 compiles a statement on every `prepare`. Kysely prepares each query it runs, so
 * cache compiled statements by SQL text: the hot lookups then cost one bound execution.
 */
function cachingSqlite(db: Database.Database, onWrite: () => void): Database.Database {
  const cache = new Map<string, Database.Statement>();
  const prepare = db.prepare.bind(db);
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === "exec") {
        return (sql: string) => {
          onWrite();
          return target.exec(sql);
        };
      }
      if (prop === "prepare") {
        return (sql: string) => {
          let st = cache.get(sql);
          if (!st) {
            st = prepare(sql);
            if (!st.readonly) {
              // Every statement that changes data invalidates cached query results, however it
              // is run (INSERT … RETURNING is run with all()).
              const target = st as unknown as Record<"run" | "all" | "get" | "iterate", (...a: unknown[]) => unknown>;
              for (const m of ["run", "all", "get", "iterate"] as const) {
                const original = target[m].bind(st);
                target[m] = (...args: unknown[]) => {
                  onWrite();
                  return original(...args);
                };
              }
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

export interface OpenOptions {
  /** postgres://… URL; absent ⇒ SQLite file in dataDir. */
  url?: string | null;
  dataDir: string;
  /** SQLite file name override (":memory:" for tests). */
  sqliteFile?: string;
  /** Registers extra SQL functions on SQLite (e.g. regexp). */
  sqliteFunctions?: (db: Database.Database) => void;
}

export async function openStore(opts: OpenOptions): Promise<Store> {
  let store: Store;
  if (opts.url && /^postgres(ql)?:\/\//.test(opts.url)) {
    const pool = new pg.Pool({ connectionString: opts.url, max: 10 });
    const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
    const u = new URL(opts.url);
    store = { db, dialect: "postgres", describe: `postgres://${u.host}${u.pathname}`, queryCache: null, close: () => db.destroy() };
  } else {
    const file = opts.sqliteFile ?? path.join(opts.dataDir, "gatehouse.db");
    if (file !== ":memory:") mkdirSync(path.dirname(file), { recursive: true });
    const raw = new Database(file);
    raw.pragma("journal_mode = WAL");
    raw.pragma("synchronous = NORMAL");
    raw.pragma("foreign_keys = ON");
    raw.pragma("busy_timeout = 5000");
    opts.sqliteFunctions?.(raw);
    let localWrites = 0;
    const dataVersion = raw.prepare("PRAGMA data_version").pluck();
    const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: cachingSqlite(raw, () => localWrites++) }) });
    const queryCache = new QueryCache(() => `${localWrites}:${dataVersion.get() as number}`);
    store = { db, dialect: "sqlite", describe: `sqlite:${file}`, queryCache, close: () => db.destroy() };
  }
  await runMigrations(store.db, store.dialect);
  return store;
}

/** Run `fn` in one transaction. */
export function transaction<T>(db: Db, fn: (trx: Transaction<Schema>) => Promise<T>): Promise<T> {
  return db.transaction().execute(fn);
}
