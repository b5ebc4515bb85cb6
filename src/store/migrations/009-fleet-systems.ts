// Fleet systems (issue 11, point 2): a system names the certificate authority that verifies its
// TLS certificate, may carry a second, read-only API key (sealed like the main one), and records
// when it was made and changed. Its observed status (reachable, version, latency, last error)
// lives in a table of its own: the poller rewrites it every round, and keeping it apart keeps
// those writes out of the systems' rows (and out of anything that watches them).

import type { Dialect, Migration, MigrationDb } from "./migration.js";

export const m009FleetSystems: Migration = {
  version: 9,
  name: "fleet-systems",
  async up(db: MigrationDb, _dialect: Dialect) {
    const s = db.schema;
    await s.alterTable("fleet_systems").addColumn("ca", "integer").execute();
    await s.alterTable("fleet_systems").addColumn("read_api_key", "text").execute();
    await s.alterTable("fleet_systems").addColumn("username", "text").execute();
    await s
      .alterTable("fleet_systems")
      .addColumn("created_at", "bigint", (c) => c.notNull().defaultTo(0))
      .execute();
    await s
      .alterTable("fleet_systems")
      .addColumn("updated_at", "bigint", (c) => c.notNull().defaultTo(0))
      .execute();
    await s
      .createTable("fleet_system_status")
      .addColumn("system_id", "integer", (c) => c.primaryKey().references("fleet_systems.id").onDelete("cascade"))
      .addColumn("reachable", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("version", "text")
      .addColumn("latency_ms", "real")
      .addColumn("error", "text")
      .addColumn("error_code", "text")
      .addColumn("checked_at", "bigint", (c) => c.notNull())
      .execute();
  },
};
