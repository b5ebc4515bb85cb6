// PostgreSQL: every committed change to the tables that account entries are built from announces
// itself with NOTIFY gatehouse_changes, so each server process sharing the database can drop its
// cached results (./../change-feed.ts). Statement-level triggers: a bulk load is one notification,
// and PostgreSQL folds identical notifications of one transaction into one. SQLite needs none:
// `PRAGMA data_version` tells a connection that another one committed.

import { sql } from "kysely";
import type { Dialect, Migration, MigrationDb } from "./migration.js";

export const CHANGE_CHANNEL = "gatehouse_changes";
/** Tables whose rows end up in user, group, privilege or API key entries, or in host files. */
export const WATCHED_TABLES = ["users", "groups", "memberships", "privileges", "api_keys", "settings"] as const;

export const m004ChangeNotify: Migration = {
  version: 4,
  name: "change-notify",
  async up(db: MigrationDb, dialect: Dialect) {
    if (dialect !== "postgres") return;
    await sql
      .raw(`create or replace function gatehouse_notify_change() returns trigger language plpgsql as $$ ` + `begin perform pg_notify('${CHANGE_CHANNEL}', TG_TABLE_NAME); return null; end $$`)
      .execute(db);
    for (const t of WATCHED_TABLES) {
      await sql.raw(`create trigger ${t}_notify_change after insert or update or delete or truncate on ${t} ` + `for each statement execute function gatehouse_notify_change()`).execute(db);
    }
  },
};
