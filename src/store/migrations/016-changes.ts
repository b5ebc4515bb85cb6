// The change log (issue 10, typed change events): every committed change writes its typed event
// (src/store/change-event.ts) to `changes` in its own transaction. On PostgreSQL inserting a row
// sends NOTIFY with only its sequence number ("seq:<n>"): a payload is capped at 8,000 bytes,
// a row is not, and another server process reads the rows it has not seen yet and hands their
// events to its listeners (host provisioning, sessions). Rows are pruned after a day
// (src/store/changes.ts). SQLite (one server process per file) keeps the rows too, so the log
// and its tests are the same on both stores.

import { sql } from "kysely";
import type { Dialect, Migration, MigrationDb } from "./migration.js";
import { CHANGE_CHANNEL } from "./004-change-notify.js";

export const m016Changes: Migration = {
  version: 16,
  name: "changes",
  async up(db: MigrationDb, dialect: Dialect) {
    await db.schema
      .createTable("changes")
      .addColumn("seq", dialect === "postgres" ? "bigserial" : "integer", (c) => (dialect === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement()))
      .addColumn("payload", "text", (c) => c.notNull())
      .addColumn("at", "bigint", (c) => c.notNull())
      .execute();
    if (dialect !== "postgres") return;
    await sql
      .raw(`create or replace function gatehouse_notify_change_seq() returns trigger language plpgsql as $$ ` + `begin perform pg_notify('${CHANGE_CHANNEL}', 'seq:' || NEW.seq); return null; end $$`)
      .execute(db);
    await sql.raw(`create trigger changes_notify_seq after insert on changes for each row execute function gatehouse_notify_change_seq()`).execute(db);
  },
};
