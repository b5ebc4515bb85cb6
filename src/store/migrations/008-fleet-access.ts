// Fleet access (issue 11): what the precedence queries of src/fleet/effective-access.ts need at
// 100,000 users, and the constraints that keep the entries well-formed.
//
// - fleet_access: one entry per (owner, target) — unique, and the index the per-user lookups use;
//   a (target_kind, target_id) index so deleting a system or group finds its grants.
// - team_members: lookups by user (the primary key leads with the team); an `origin` column,
//   'LOCAL' by default, so memberships made by a directory mapping ('LDAP') can be removed later.
// - fleet_system_group_members: lookups by system (the primary key leads with the group).
// - PostgreSQL: changes of group membership and of the systems themselves announce themselves on
//   the change feed (as migration 007 does for fleet_access and team_members), because they can
//   take away the last system a user without privileges may see (src/auth/revalidate.ts).

import { sql } from "kysely";
import type { Dialect, Migration, MigrationDb } from "./migration.js";

/** Tables beyond migrations 004 and 007 whose changes can narrow fleet access. */
export const FLEET_WATCHED_TABLES = ["fleet_system_group_members", "fleet_systems"] as const;

export const m008FleetAccess: Migration = {
  version: 8,
  name: "fleet-access",
  async up(db: MigrationDb, dialect: Dialect) {
    const s = db.schema;
    await s
      .alterTable("team_members")
      .addColumn("origin", "text", (c) => c.notNull().defaultTo("LOCAL"))
      .execute();
    await s.dropIndex("fleet_access_owner").execute();
    await s.createIndex("fleet_access_owner_target").unique().on("fleet_access").columns(["owner_kind", "owner_id", "target_kind", "target_id"]).execute();
    await s.createIndex("fleet_access_target").on("fleet_access").columns(["target_kind", "target_id"]).execute();
    await s.createIndex("team_members_user").on("team_members").columns(["user_id", "team_id"]).execute();
    await s.createIndex("fleet_sgm_system").on("fleet_system_group_members").columns(["system_id", "system_group_id"]).execute();
    if (dialect !== "postgres") return;
    for (const t of FLEET_WATCHED_TABLES) {
      await sql.raw(`create trigger ${t}_access_notify after insert or update or delete or truncate on ${t} for each statement execute function gatehouse_notify_change()`).execute(db);
    }
  },
};
