// Queries of the login and audit hot paths, built with Kysely once per store and then run with new
// parameter values. Building and compiling a Kysely query costs several microseconds each time
// (node creation, freezing, SQL generation); for a statement whose shape never changes that work
// is the same on every call. The SQL is compiled with placeholders `param(i)` standing for the
// i-th argument; every other value stays as compiled.

import { PostgresAdapter, sql, type CompiledQuery, type QueryResult } from "kysely";
import type BetterSqlite from "better-sqlite3";
import { freeSqliteHandle, sqliteHandleOf, type Db, type Tx } from "../store/db.js";
import { changesWatchedTables } from "../store/change-feed.js";

const MARK = "\u0000gatehouse-param:";

/** Placeholder for the `i`-th argument of a prepared query (typed as the column it stands for). */
export function param<T>(i: number): T {
  return `${MARK}${i}` as unknown as T;
}

type Slot = { arg: number } | { value: unknown };

interface Compiled<R> {
  query: CompiledQuery<R>;
  slots: Slot[];
}

export class Prepared<A extends readonly unknown[], R> {
  /** One compilation per store (Kysely instance and its transactions share the adapter). */
  private readonly compiled = new WeakMap<object, Compiled<R>>();

  constructor(
    private readonly arity: A["length"],
    private readonly build: (db: Db) => CompiledQuery<R>,
  ) {}

  private compile(db: Tx): Compiled<R> {
    const key = db.getExecutor().adapter as object;
    let c = this.compiled.get(key);
    if (c) return c;
    const query = this.build(db as Db);
    const seen = new Set<number>();
    let misplaced = query.sql.includes(MARK);
    const slots: Slot[] = query.parameters.map((v) => {
      if (typeof v === "string" && v.includes(MARK)) {
        const arg = Number(v.slice(MARK.length));
        if (v !== param<string>(arg) || !Number.isInteger(arg) || arg < 0 || arg >= this.arity) misplaced = true;
        seen.add(arg);
        return { arg };
      }
      return { value: v };
    });
    if (misplaced || seen.size !== this.arity) {
      throw new Error(`prepared query: every argument must be a bound parameter (${query.sql})`);
    }
    c = { query, slots };
    this.compiled.set(key, c);
    return c;
  }

  /** Run with `args` on `db` (the store or a transaction). */
  execute(db: Tx, ...args: A): Promise<QueryResult<R>> {
    const { query, slots } = this.compile(db);
    const parameters = new Array<unknown>(slots.length);
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i]!;
      parameters[i] = "arg" in s ? args[s.arg] : s.value;
    }
    return db.executeQuery<R>({ ...query, parameters });
  }

  /** better-sqlite3 statements of this query, by SQLite connection (for runNow). */
  private readonly statements = new WeakMap<BetterSqlite.Database, BetterSqlite.Statement>();

  /**
   * SQLite: run now, synchronously, on the store's own connection (`store` is the SQLite store's
   * Kysely instance), for a caller that holds that connection in a transaction of its own opened
   * there (better-sqlite3's `transaction`), so no other statement runs in between. Only for
   * statements that change no table the change feed watches: the feed counts those as Kysely
   * runs them (src/store/db.ts), and this does not go through Kysely. Throws on any failure.
   */
  runNow(store: Db, ...args: A): BetterSqlite.RunResult {
    const raw = sqliteHandleOf(store);
    if (!raw) throw new Error("prepared query: runNow needs the SQLite store");
    const { query, slots } = this.compile(store);
    let st = this.statements.get(raw);
    if (!st) {
      if (changesWatchedTables(query.sql)) throw new Error(`prepared query: runNow would bypass the change feed (${query.sql})`);
      st = raw.prepare(query.sql);
      this.statements.set(raw, st);
    }
    const parameters = new Array<unknown>(slots.length);
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i]!;
      parameters[i] = "arg" in s ? args[s.arg] : s.value;
    }
    return st.run(parameters);
  }

  /**
   * SQLite: the rows now, synchronously, from the store's own connection (`store`: the store's
   * Kysely instance) — what a read queued now would see, without Kysely's promise hops and
   * connection lock (tens of microseconds a statement on a login's path). Null when it cannot be
   * done so: not SQLite, a transaction open on the connection (its uncommitted writes would be
   * seen: a queued read waits for its end), or the statement failing (the connection busy with a
   * streamed read): then the caller awaits rows() as usual. Reads only.
   */
  rowsNow(store: Db, ...args: A): R[] | null {
    const raw = freeSqliteHandle(store);
    if (!raw) return null;
    try {
      const { query, slots } = this.compile(store);
      let st = this.statements.get(raw);
      if (!st) {
        st = raw.prepare(query.sql);
        if (!st.reader) throw new Error(`prepared query: rowsNow is for reads (${query.sql})`);
        this.statements.set(raw, st);
      }
      const parameters = new Array<unknown>(slots.length);
      for (let i = 0; i < slots.length; i++) {
        const s = slots[i]!;
        parameters[i] = "arg" in s ? args[s.arg] : s.value;
      }
      return st.all(parameters) as R[];
    } catch {
      return null;
    }
  }

  async rows(db: Tx, ...args: A): Promise<R[]> {
    return (await this.execute(db, ...args)).rows;
  }

  async first(db: Tx, ...args: A): Promise<R | undefined> {
    return (await this.execute(db, ...args)).rows[0];
  }
}

/** Is `db` a PostgreSQL store (for the few statements whose SQL differs by dialect)? */
export function isPostgres(db: Tx): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/** A prepared query of `arity` arguments (types given by `A`). */
export function prepare<A extends readonly unknown[]>() {
  return <R>(arity: A["length"], build: (db: Db) => CompiledQuery<R>) => new Prepared<A, R>(arity, build);
}

/**
 * The aggregates a grant is read from, in the store's dialect: the user's auxiliary GIDs (over
 * memberships joined as "mg") and the privileges (as "p"), each one text column. Logins and
 * session checks read the same grant inputs.
 */
export function grantAggregates(pgsql: boolean) {
  return {
    auxGids: pgsql ? sql`string_agg(cast("mg"."gid" as text), ',')` : sql`group_concat("mg"."gid")`,
    privileges: pgsql
      ? sql`cast(json_agg(json_build_array("p"."local_groups", "p"."roles", "p"."web_shell")) as text)`
      : sql`json_group_array(json_array("p"."local_groups", "p"."roles", "p"."web_shell"))`,
  };
}
