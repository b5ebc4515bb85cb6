// The initial schema: accounts, access control, sessions, audit, fleet and directory tables.

import type { CreateTableBuilder } from "kysely";
import type { Dialect, Migration, MigrationDb } from "./migration.js";

function withId<T extends string>(t: CreateTableBuilder<T, never>, dialect: Dialect): CreateTableBuilder<T, "id"> {
  return dialect === "postgres" ? t.addColumn("id", "serial", (c) => c.primaryKey()) : t.addColumn("id", "integer", (c) => c.primaryKey().autoIncrement());
}

export const m001Initial: Migration = {
  version: 1,
  name: "initial",
  async up(db: MigrationDb, dialect: Dialect) {
    const s = db.schema;
    await withId(s.createTable("groups"), dialect)
      .addColumn("gid", "integer", (c) => c.notNull())
      .addColumn("name", "text", (c) => c.notNull().unique())
      .addColumn("builtin", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("smb", "integer", (c) => c.notNull().defaultTo(1))
      .addColumn("sudo_commands", "text", (c) => c.notNull().defaultTo("[]"))
      .addColumn("sudo_commands_nopasswd", "text", (c) => c.notNull().defaultTo("[]"))
      .addColumn("userns_idmap", "text")
      .execute();
    await s.createIndex("groups_gid").on("groups").column("gid").execute();

    await withId(s.createTable("users"), dialect)
      .addColumn("uid", "integer", (c) => c.notNull())
      .addColumn("username", "text", (c) => c.notNull().unique())
      .addColumn("unixhash", "text")
      .addColumn("smbhash", "text")
      .addColumn("home", "text", (c) => c.notNull())
      .addColumn("shell", "text", (c) => c.notNull())
      .addColumn("full_name", "text", (c) => c.notNull())
      .addColumn("builtin", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("smb", "integer", (c) => c.notNull().defaultTo(1))
      .addColumn("microsoft_account", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("userns_idmap", "text")
      .addColumn("group_id", "integer", (c) => c.notNull().references("groups.id"))
      .addColumn("password_disabled", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("ssh_password_enabled", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("sshpubkey", "text")
      .addColumn("locked", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("sudo_commands", "text", (c) => c.notNull().defaultTo("[]"))
      .addColumn("sudo_commands_nopasswd", "text", (c) => c.notNull().defaultTo("[]"))
      .addColumn("email", "text")
      .addColumn("email_verified", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("last_password_change", "bigint")
      .addColumn("password_history", "text", (c) => c.notNull().defaultTo("[]"))
      .addColumn("source", "text", (c) => c.notNull().defaultTo("LOCAL"))
      .addColumn("home_mode", "text")
      .addColumn("twofactor_secret", "text")
      .addColumn("twofactor_digits", "integer", (c) => c.notNull().defaultTo(6))
      .addColumn("twofactor_interval", "integer", (c) => c.notNull().defaultTo(30))
      .addColumn("twofactor_email", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .execute();
    await s.createIndex("users_uid").on("users").column("uid").execute();
    await s.createIndex("users_group_id").on("users").column("group_id").execute();
    await s.createIndex("users_full_name").on("users").column("full_name").execute();

    await s
      .createTable("memberships")
      .addColumn("group_id", "integer", (c) => c.notNull().references("groups.id").onDelete("cascade"))
      .addColumn("user_id", "integer", (c) => c.notNull().references("users.id").onDelete("cascade"))
      .addPrimaryKeyConstraint("memberships_pk", ["group_id", "user_id"])
      .execute();
    await s.createIndex("memberships_user").on("memberships").column("user_id").execute();

    await withId(s.createTable("privileges"), dialect)
      .addColumn("builtin_name", "text")
      .addColumn("name", "text", (c) => c.notNull().unique())
      .addColumn("local_groups", "text", (c) => c.notNull().defaultTo("[]"))
      .addColumn("ds_groups", "text", (c) => c.notNull().defaultTo("[]"))
      .addColumn("roles", "text", (c) => c.notNull().defaultTo("[]"))
      .addColumn("web_shell", "integer", (c) => c.notNull().defaultTo(0))
      .execute();

    await withId(s.createTable("api_keys"), dialect)
      .addColumn("name", "text", (c) => c.notNull().unique())
      .addColumn("user_id", "integer")
      .addColumn("username", "text")
      .addColumn("salt", "text", (c) => c.notNull())
      .addColumn("keyhash", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("expires_at", "bigint")
      .addColumn("revoked", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("revoked_reason", "text")
      .addColumn("roles", "text")
      .execute();
    await s.createIndex("api_keys_user").on("api_keys").column("user_id").execute();

    await s
      .createTable("settings")
      .addColumn("key", "text", (c) => c.primaryKey())
      .addColumn("value", "text", (c) => c.notNull())
      .execute();

    await s
      .createTable("sessions")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("user_id", "integer")
      .addColumn("username", "text")
      .addColumn("credentials", "text", (c) => c.notNull())
      .addColumn("credentials_data", "text", (c) => c.notNull().defaultTo("{}"))
      .addColumn("origin", "text", (c) => c.notNull())
      .addColumn("secure_transport", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("attributes", "text", (c) => c.notNull().defaultTo("[]"))
      .addColumn("readonly", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("api_key_id", "integer")
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("last_seen", "bigint", (c) => c.notNull())
      .addColumn("expires_at", "bigint", (c) => c.notNull())
      .addColumn("terminated", "integer", (c) => c.notNull().defaultTo(0))
      .execute();
    await s.createIndex("sessions_user").on("sessions").column("user_id").execute();

    await s
      .createTable("tokens")
      .addColumn("token_hash", "text", (c) => c.primaryKey())
      .addColumn("session_id", "text", (c) => c.notNull())
      .addColumn("attrs", "text", (c) => c.notNull().defaultTo("{}"))
      .addColumn("match_origin", "text")
      .addColumn("single_use", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("ttl", "integer", (c) => c.notNull())
      .addColumn("expires_at", "bigint", (c) => c.notNull())
      .addColumn("reconnect", "integer", (c) => c.notNull().defaultTo(0))
      .execute();
    await s.createIndex("tokens_session").on("tokens").column("session_id").execute();

    await withId(s.createTable("onetime_codes"), dialect)
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("user_id", "integer")
      .addColumn("code_hash", "text", (c) => c.notNull())
      .addColumn("data", "text", (c) => c.notNull().defaultTo("{}"))
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("expires_at", "bigint", (c) => c.notNull())
      .addColumn("used", "integer", (c) => c.notNull().defaultTo(0))
      .execute();
    await s.createIndex("onetime_codes_lookup").on("onetime_codes").columns(["kind", "code_hash"]).execute();

    await s
      .createTable("counters")
      .addColumn("key", "text", (c) => c.primaryKey())
      .addColumn("count", "integer", (c) => c.notNull())
      .addColumn("window_start", "bigint", (c) => c.notNull())
      .addColumn("locked_until", "bigint")
      .execute();

    await withId(s.createTable("audit"), dialect)
      .addColumn("audit_id", "text", (c) => c.notNull())
      .addColumn("message_timestamp", "bigint", (c) => c.notNull())
      .addColumn("timestamp", "bigint", (c) => c.notNull())
      .addColumn("address", "text", (c) => c.notNull())
      .addColumn("username", "text", (c) => c.notNull())
      .addColumn("session", "text")
      .addColumn("service", "text", (c) => c.notNull())
      .addColumn("service_data", "text", (c) => c.notNull())
      .addColumn("event", "text", (c) => c.notNull())
      .addColumn("event_data", "text", (c) => c.notNull())
      .addColumn("success", "integer", (c) => c.notNull())
      .execute();
    await s.createIndex("audit_ts").on("audit").column("message_timestamp").execute();

    await s
      .createTable("attributes")
      .addColumn("user_id", "integer", (c) => c.primaryKey())
      .addColumn("attributes", "text", (c) => c.notNull())
      .execute();

    await withId(s.createTable("fleet_systems"), dialect)
      .addColumn("name", "text", (c) => c.notNull().unique())
      .addColumn("url", "text", (c) => c.notNull())
      .addColumn("api_key", "text", (c) => c.notNull())
      .addColumn("verify_ssl", "integer", (c) => c.notNull().defaultTo(1))
      .execute();
    await withId(s.createTable("fleet_system_groups"), dialect)
      .addColumn("name", "text", (c) => c.notNull().unique())
      .execute();
    await s
      .createTable("fleet_system_group_members")
      .addColumn("system_group_id", "integer", (c) => c.notNull().references("fleet_system_groups.id").onDelete("cascade"))
      .addColumn("system_id", "integer", (c) => c.notNull().references("fleet_systems.id").onDelete("cascade"))
      .addPrimaryKeyConstraint("fleet_sgm_pk", ["system_group_id", "system_id"])
      .execute();
    await withId(s.createTable("teams"), dialect)
      .addColumn("name", "text", (c) => c.notNull().unique())
      .execute();
    await s
      .createTable("team_members")
      .addColumn("team_id", "integer", (c) => c.notNull().references("teams.id").onDelete("cascade"))
      .addColumn("user_id", "integer", (c) => c.notNull().references("users.id").onDelete("cascade"))
      .addPrimaryKeyConstraint("team_members_pk", ["team_id", "user_id"])
      .execute();
    await withId(s.createTable("fleet_access"), dialect)
      .addColumn("owner_kind", "text", (c) => c.notNull())
      .addColumn("owner_id", "integer", (c) => c.notNull())
      .addColumn("target_kind", "text", (c) => c.notNull())
      .addColumn("target_id", "integer", (c) => c.notNull())
      .addColumn("access", "text", (c) => c.notNull())
      .execute();
    await s.createIndex("fleet_access_owner").on("fleet_access").columns(["owner_kind", "owner_id"]).execute();

    await withId(s.createTable("ldap_servers"), dialect)
      .addColumn("position", "integer", (c) => c.notNull())
      .addColumn("hostname", "text", (c) => c.notNull())
      .addColumn("domain", "text", (c) => c.notNull())
      .addColumn("group_domain", "text")
      .addColumn("verify_ssl", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("user_id_field", "text", (c) => c.notNull().defaultTo("uid"))
      .addColumn("group_id_field", "text", (c) => c.notNull().defaultTo("cn"))
      .addColumn("bind_dn", "text")
      .addColumn("bind_password", "text")
      .addColumn("realm", "text")
      .addColumn("kdc", "text")
      .execute();
    await withId(s.createTable("certificate_authorities"), dialect)
      .addColumn("name", "text", (c) => c.notNull().unique())
      .addColumn("certificate", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .execute();
  },
};
