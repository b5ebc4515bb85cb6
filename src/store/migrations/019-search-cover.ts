// A covering index for the UI's searches ordered by uid (issue 15), beside migration 015's search
// indexes. Those name candidates by id; a page ordered by uid then read every candidate's row from
// the users table to learn its uid and re-check its text — one random page read per candidate
// (a medium term, ~4,000 candidates at 1,000,000 users: 7–65 ms). This index holds uid and the
// searched columns in uid order, so the query planner (src/store/query-search.ts) can walk it
// instead: testing each entry against the candidate set, or re-checking its text directly, until
// the page is full, without touching a users row (the same medium term: 1–2 ms).
//
// SQLite only: PostgreSQL's planner picks its own plan from its statistics (src/store/query-search.ts
// lists or estimates the candidates there), and the 1,000,000-user aims are SQLite's. On PostgreSQL
// the migration records its version and builds nothing.

import { sql } from "kysely";
import type { Dialect, Migration, MigrationDb } from "./migration.js";

/** The index's name (the planner names it in INDEXED BY). */
export const SEARCH_COVER_INDEX = "users_uid_search";

export const m019SearchCover: Migration = {
  version: 19,
  name: "search-cover",
  async up(db: MigrationDb, dialect: Dialect) {
    if (dialect !== "sqlite") return;
    await sql.raw(`create index ${SEARCH_COVER_INDEX} on users (uid, username, full_name)`).execute(db);
  },
};
