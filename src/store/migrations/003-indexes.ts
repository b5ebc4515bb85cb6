// Indexes for checks that run on every account change at 100,000 users: "home directory already
// used by another user" looks users up by home.

import type { Kysely } from "kysely";
import type { Migration } from "./migration.js";

export const m003Indexes: Migration = {
  version: 3,
  name: "indexes",
  async up(db: Kysely<any>) {
    await db.schema.createIndex("users_home").on("users").column("home").execute();
  },
};
