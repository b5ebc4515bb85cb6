// Directory logins (issue 12): per-server TLS mode, nested groups and timeouts; directory group →
// team mappings; the optional "LDAP or AD username" of a local user. The LDAP options
// (allow_user_creation, join_teams) live in `settings` under "ldap.config".

import type { Migration, MigrationDb } from "./migration.js";

export const m010Directory: Migration = {
  version: 10,
  name: "directory",
  async up(db: MigrationDb) {
    const s = db.schema;
    await s
      .alterTable("ldap_servers")
      .addColumn("security", "text", (c) => c.notNull().defaultTo("LDAPS"))
      .execute();
    await s
      .alterTable("ldap_servers")
      .addColumn("nested_groups", "integer", (c) => c.notNull().defaultTo(0))
      .execute();
    await s
      .alterTable("ldap_servers")
      .addColumn("connect_timeout", "integer", (c) => c.notNull().defaultTo(5))
      .execute();
    await s
      .alterTable("ldap_servers")
      .addColumn("timeout", "integer", (c) => c.notNull().defaultTo(10))
      .execute();
    await s.alterTable("users").addColumn("ldap_username", "text").execute();
    await s
      .createTable("ldap_team_mappings")
      .addColumn("group_dn", "text", (c) => c.notNull())
      .addColumn("team_id", "integer", (c) => c.notNull().references("teams.id").onDelete("cascade"))
      .addPrimaryKeyConstraint("ldap_team_mappings_pk", ["group_dn", "team_id"])
      .execute();
  },
};
