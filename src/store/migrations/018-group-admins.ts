// Group administrators (gshadow's third field: users who may manage a group with gpasswd), kept
// when a host is adopted or accounts are imported (issue 13 point 6). The reference has no such
// concept; Gatehouse stores them so that adopting a host and provisioning it again loses nothing.
// `groups.admins` is a JSON list of users.id (not names: a deleted administrator's name taken by a
// new account must not make it one), rendered as names into gshadow.

import type { Dialect, Migration, MigrationDb } from "./migration.js";

export const m018GroupAdmins: Migration = {
  version: 18,
  name: "group-admins",
  async up(db: MigrationDb, _dialect: Dialect) {
    await db.schema
      .alterTable("groups")
      .addColumn("admins", "text", (c) => c.notNull().defaultTo("[]"))
      .execute();
  },
};
