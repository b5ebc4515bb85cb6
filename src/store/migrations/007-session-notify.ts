// PostgreSQL: a session terminated by one server process, and a change of fleet access (which
// decides whether an account without privileges may still sign in), announce themselves on the
// change feed's channel like the account tables do (migration 004), so the process holding the
// session checks it on its very next call instead of on a periodic sweep (src/auth/service.ts).
// Only statements that set `terminated` notify: logins, heartbeats and last_seen updates do not.
// SQLite needs none: `PRAGMA data_version` tells a connection that another one committed.

import { sql } from "kysely";
import type { Dialect, Migration, MigrationDb } from "./migration.js";

/** Tables beyond migration 004's whose changes can end or narrow a session. */
export const SESSION_WATCHED_TABLES = ["fleet_access", "team_members"] as const;

export const m007SessionNotify: Migration = {
  version: 7,
  name: "session-notify",
  async up(db: MigrationDb, dialect: Dialect) {
    if (dialect !== "postgres") return;
    // gatehouse_notify_change() comes from migration 004.
    await sql.raw(`create trigger sessions_terminated_notify after update of terminated on sessions ` + `for each statement execute function gatehouse_notify_change()`).execute(db);
    for (const t of SESSION_WATCHED_TABLES) {
      await sql.raw(`create trigger ${t}_notify_change after insert or update or delete or truncate on ${t} for each statement execute function gatehouse_notify_change()`).execute(db);
    }
  },
};
