// Mail (issue 12): the outgoing mail queue, and a try counter on emailed codes.
//
// - `mail_queue` holds (user, kind) — never a code: the code of a login or reset mail is minted
//   when the mail is sent (src/mail/queue.ts). A row is claimed with a lease (`locked_until`),
//   taken under `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several server processes share it.
// - `onetime_codes.tries`: wrong guesses at an emailed code (verification, second factor, reset);
//   at 5 the code is dead.
// The mail settings live in `settings` (key "mail"); the SMTP password sealed by the secret box.
// The users' `email_verified` and `twofactor_email` columns (migration 001) carry the rest.

import type { Dialect, Migration, MigrationDb } from "./migration.js";

export const m011Mail: Migration = {
  version: 11,
  name: "mail",
  async up(db: MigrationDb, dialect: Dialect) {
    const t = db.schema.createTable("mail_queue");
    await (dialect === "postgres" ? t.addColumn("id", "serial", (c) => c.primaryKey()) : t.addColumn("id", "integer", (c) => c.primaryKey().autoIncrement()))
      .addColumn("user_id", "integer", (c) => c.notNull())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull().defaultTo("PENDING"))
      .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("next_attempt_at", "bigint", (c) => c.notNull())
      .addColumn("locked_until", "bigint", (c) => c.notNull().defaultTo(0))
      .addColumn("last_error", "text")
      .addColumn("last_error_code", "text")
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("sent_at", "bigint")
      .execute();
    await db.schema.createIndex("mail_queue_due").on("mail_queue").columns(["state", "next_attempt_at"]).execute();
    await db.schema
      .alterTable("onetime_codes")
      .addColumn("tries", "integer", (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.createIndex("onetime_codes_user_kind").on("onetime_codes").columns(["user_id", "kind"]).execute();
  },
};
