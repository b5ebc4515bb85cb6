// Indexes for the UI's searches on users (issue 15), so a search costs what it finds, not what the
// store holds. The query planner (src/store/query-search.ts) uses them as candidate sets and the
// query engine re-checks every candidate, so none of them has to be exact:
//
// - case-folded prefixes and the case-insensitive sort: an index on the ASCII-lowercased column
//   (SQLite `lower()`, PostgreSQL `lower(… COLLATE "C")`, both fold ASCII letters only);
// - the few rows holding non-ASCII text, which ASCII folding cannot judge (the Kelvin sign matches
//   "k" case-insensitively): a partial index, so a search adds them as candidates for nothing;
// - substrings: trigrams. SQLite: an FTS5 `trigram` table per column (detail=none: the smallest;
//   the planner ANDs a term's trigrams and the engine re-checks), kept by triggers. PostgreSQL:
//   pg_trgm GIN indexes when the extension can be installed; where it cannot, substring searches
//   scan (the same results, slower) and a warning says so.

import { sql } from "kysely";
import type { Dialect, Migration, MigrationDb } from "./migration.js";

/** The users columns the search indexes cover. */
export const SEARCH_INDEXED_COLUMNS = ["username", "full_name"] as const;

/**
 * The partial index's condition: the column holds non-ASCII text. A query must spell it exactly so
 * (SQLite matches a partial index's WHERE by its text, `AS BLOB` and `as blob` differ).
 */
export function nonAsciiSql(column: string, dialect: Dialect): string {
  return dialect === "postgres" ? `octet_length(${column}) <> char_length(${column})` : `length(${column}) <> length(cast(${column} as blob))`;
}

/** The partial index of rows whose `column` holds non-ASCII text. */
export const nonAsciiIndex = (column: string): string => `users_${column}_nonascii`;

/** SQLite: the FTS5 trigram table over one users column. */
export const trigramTable = (column: string): string => `users_trgm_${column}`;

async function run(db: MigrationDb, statements: string[]): Promise<void> {
  for (const s of statements) await sql.raw(s).execute(db);
}

async function sqliteIndexes(db: MigrationDb): Promise<void> {
  for (const c of SEARCH_INDEXED_COLUMNS) {
    const t = trigramTable(c);
    await run(db, [
      `create index users_${c}_ci on users (lower(${c}))`,
      `create index ${nonAsciiIndex(c)} on users (id) where ${nonAsciiSql(c, "sqlite")}`,
      `create virtual table ${t} using fts5(${c}, content='users', content_rowid='id', tokenize='trigram', detail='none')`,
      `insert into ${t}(${t}) values ('rebuild')`,
      `create trigger ${t}_ai after insert on users begin insert into ${t}(rowid, ${c}) values (new.id, new.${c}); end`,
      `create trigger ${t}_ad after delete on users begin insert into ${t}(${t}, rowid, ${c}) values ('delete', old.id, old.${c}); end`,
      `create trigger ${t}_au after update of ${c} on users when old.${c} is not new.${c} begin ` +
        `insert into ${t}(${t}, rowid, ${c}) values ('delete', old.id, old.${c}); insert into ${t}(rowid, ${c}) values (new.id, new.${c}); end`,
    ]);
  }
}

async function postgresIndexes(db: MigrationDb): Promise<void> {
  for (const c of SEARCH_INDEXED_COLUMNS) {
    await run(db, [`create index users_${c}_ci on users (lower(${c} collate "C"), id)`, `create index ${nonAsciiIndex(c)} on users (id) where ${nonAsciiSql(c, "postgres")}`]);
  }
  // A failed statement aborts PostgreSQL's transaction: try the extension under a savepoint.
  await sql`savepoint search_trgm`.execute(db);
  try {
    await sql`create extension if not exists pg_trgm`.execute(db);
    for (const c of SEARCH_INDEXED_COLUMNS) {
      await sql.raw(`create index users_${c}_trgm on users using gin (lower(${c} collate "C") gin_trgm_ops)`).execute(db);
    }
    await sql`release savepoint search_trgm`.execute(db);
  } catch (err) {
    await sql`rollback to savepoint search_trgm`.execute(db);
    process.emitWarning(
      `pg_trgm cannot be installed (${(err as Error).message}): substring searches on users scan instead of using a trigram index ` +
        "(the same results, slower at many users). docs/departures.md (search indexes) says how to add them later.",
      { code: "GATEHOUSE_NO_PG_TRGM" },
    );
  }
}

export const m015SearchIndexes: Migration = {
  version: 15,
  name: "search-indexes",
  async up(db: MigrationDb, dialect: Dialect) {
    if (dialect === "postgres") await postgresIndexes(db);
    else await sqliteIndexes(db);
  },
};
