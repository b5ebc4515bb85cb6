// Migration 015's search indexes and 019's covering index dropped and built again on a bench store (SQLite): the benches
// bulk-load their rows without them (a bulk load instead of one run of their FTS5 triggers per
// row: minutes at 1,000,000 users) and build them afterwards, as the first start after the
// upgrade does; the core bench also times that build and the indexes' cost to writes.

import { sql } from "kysely";
import type { Db } from "../src/store/db.js";
import { m015SearchIndexes, nonAsciiIndex, SEARCH_INDEXED_COLUMNS, trigramTable } from "../src/store/migrations/015-search-indexes.js";
import { m019SearchCover, SEARCH_COVER_INDEX } from "../src/store/migrations/019-search-cover.js";

/** Drops migrations 015's and 019's search indexes: the store as before the upgrade. */
export async function dropSearchIndexes(db: Db): Promise<void> {
  await sql.raw(`drop index ${SEARCH_COVER_INDEX}`).execute(db);
  for (const c of SEARCH_INDEXED_COLUMNS) {
    const t = trigramTable(c);
    for (const q of [`drop trigger ${t}_ai`, `drop trigger ${t}_ad`, `drop trigger ${t}_au`, `drop table ${t}`, `drop index users_${c}_ci`, `drop index ${nonAsciiIndex(c)}`])
      await sql.raw(q).execute(db);
  }
}

/** Builds them (the migrations' own statements, in one transaction). */
export async function buildSearchIndexes(db: Db): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await m015SearchIndexes.up(trx as never, "sqlite");
    await m019SearchCover.up(trx as never, "sqlite");
  });
}

export const searchIndexesPresent = async (db: Db): Promise<boolean> =>
  Number((await sql<{ n: number }>`select count(*) as n from sqlite_master where name = ${trigramTable("full_name")}`.execute(db)).rows[0]?.n) > 0;
