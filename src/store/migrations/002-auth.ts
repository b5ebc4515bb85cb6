// Access-control additions: a liveness heartbeat on sessions (so auth.sessions lists only sessions
// whose server process is alive) and a unique index that makes a TOTP time step single-use even
// when two server processes accept the same code at once.

import { sql } from "kysely";
import type { Dialect, Migration, MigrationDb } from "./migration.js";

export const m002Auth: Migration = {
  version: 2,
  name: "auth",
  async up(db: MigrationDb, _dialect: Dialect) {
    await db.schema
      .alterTable("sessions")
      .addColumn("heartbeat", "bigint", (c) => c.notNull().defaultTo(0))
      .execute();
    await sql`create unique index onetime_codes_totp_used on onetime_codes (code_hash) where kind = 'TOTP_USED'`.execute(db);
  },
};
