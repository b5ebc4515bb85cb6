// SCRAM-SHA-512 API-key login (issue 13; reference truenas-scram-and-jobs.md §2). Each key keeps its
// SCRAM record — iterations, salt (base64 of 16 bytes), stored_key and server_key (base64 of 64) —
// beside the fast salted hash PLAIN checks. The fast hash's salt column was called `salt`, which
// is SCRAM's name for its own salt: it becomes `keyhash_salt`, and `salt` is the SCRAM one. Keys made
// before have no SCRAM record (null columns) until their next successful PLAIN login.

import type { Dialect, Migration, MigrationDb } from "./migration.js";

export const m012Scram: Migration = {
  version: 12,
  name: "scram",
  async up(db: MigrationDb, _dialect: Dialect) {
    await db.schema.alterTable("api_keys").renameColumn("salt", "keyhash_salt").execute();
    await db.schema.alterTable("api_keys").addColumn("iterations", "integer").execute();
    await db.schema.alterTable("api_keys").addColumn("salt", "text").execute();
    await db.schema.alterTable("api_keys").addColumn("stored_key", "text").execute();
    await db.schema.alterTable("api_keys").addColumn("server_key", "text").execute();
  },
};
