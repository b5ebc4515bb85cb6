// Versioned migrations. Each runs once, in order, inside a transaction; the applied versions are
// recorded in `schema_migrations`. Never edit a released migration: add a new one.

import { sql } from "kysely";
import type { Dialect, Migration, MigrationDb } from "./migration.js";
import { m001Initial } from "./001-initial.js";
import { m003Indexes } from "./003-indexes.js";
import { m002Auth } from "./002-auth.js";
import { m004ChangeNotify } from "./004-change-notify.js";
import { m007SessionNotify } from "./007-session-notify.js";
import { m016Changes } from "./016-changes.js";
import { m008FleetAccess } from "./008-fleet-access.js";
import { m010Directory } from "./010-directory.js";
import { m005UniqueIds } from "./005-unique-ids.js";
import { m009FleetSystems } from "./009-fleet-systems.js";
import { m011Mail } from "./011-mail.js";
import { m012Scram } from "./012-scram.js";
import { m015SearchIndexes } from "./015-search-indexes.js";
import { m018GroupAdmins } from "./018-group-admins.js";
import { m019SearchCover } from "./019-search-cover.js";
import { m020CodePointOrder } from "./020-code-point-order.js";

export type { Migration } from "./migration.js";

export const MIGRATIONS: Migration[] = [
  m001Initial,
  m002Auth,
  m003Indexes,
  m004ChangeNotify,
  m005UniqueIds,
  m007SessionNotify,
  m008FleetAccess,
  m009FleetSystems,
  m010Directory,
  m011Mail,
  m012Scram,
  m015SearchIndexes,
  m016Changes,
  m018GroupAdmins,
  m019SearchCover,
  m020CodePointOrder,
];

export async function runMigrations(db: MigrationDb, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable("schema_migrations")
    .ifNotExists()
    .addColumn("version", "integer", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("applied_at", "bigint", (c) => c.notNull())
    .execute();
  for (const m of [...MIGRATIONS].sort((a, b) => a.version - b.version)) {
    await db.transaction().execute(async (trx) => {
      // Serialise concurrent starters on PostgreSQL (several server processes, one database).
      if (dialect === "postgres") await sql`select pg_advisory_xact_lock(727274)`.execute(trx);
      const done = await trx.selectFrom("schema_migrations").select("version").where("version", "=", m.version).executeTakeFirst();
      if (done) return;
      await m.up(trx, dialect);
      await trx.insertInto("schema_migrations").values({ version: m.version, name: m.name, applied_at: Date.now() }).execute();
    });
  }
}
