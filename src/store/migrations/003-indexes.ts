// Indexes for checks that run on every account change at 100,000 users: "home directory already
// used by another user" looks users up by home.

import type { Migration, MigrationDb } from "./migration.js";

export const m003Indexes: Migration = {
  version: 3,
  name: "indexes",
  async up(db: MigrationDb) {
    await db.schema.createIndex("users_home").on("users").column("home").execute();
  },
};
