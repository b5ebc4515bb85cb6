// Indexes in code-point order for pages sorted by name on PostgreSQL. The query engine sorts text
// the way the reference does — by code point — so its ORDER BY names `COLLATE "C"`
// (src/store/query-sql.ts). The columns' own indexes are in the database's collation (C.UTF-8,
// en_US…), which PostgreSQL cannot use for that order even where the two agree: a page of a common
// search ordered by username read every matching row and sorted them (the bench's two-letter
// search "us": 170 ms at 100,000 users, against 0.7 ms walking this index until the page is full).
// Username and group name: the names scripts list in order. The UI sorts text by `:ci`, which
// migration 015's lowercased indexes serve; a full-name order is left to a sort.
//
// PostgreSQL only: SQLite's text order is already by code point (BINARY), and its indexes serve it.

import { sql } from "kysely";
import type { Dialect, Migration, MigrationDb } from "./migration.js";

export const m020CodePointOrder: Migration = {
  version: 20,
  name: "code-point-order",
  async up(db: MigrationDb, dialect: Dialect) {
    if (dialect !== "postgres") return;
    await sql.raw(`create index users_username_c on users (username collate "C")`).execute(db);
    await sql.raw(`create index groups_name_c on groups (name collate "C")`).execute(db);
  },
};
