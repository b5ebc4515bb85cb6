// Migration 005 (unique-ids) on a store that already holds duplicates: it reports every one (the
// value and the accounts holding it), refuses to run — so the store does not open and the server
// does not start — and runs once they are fixed, after which the store refuses new duplicates.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { Kysely, PostgresDialect, SqliteDialect, sql } from "kysely";
import { freshPgDatabase } from "../../../test/harness.js";
import { openStore, type Dialect } from "../db.js";
import { violatedKey } from "../../accounts/uniqueness.js";
import { MIGRATIONS, runMigrations } from "./index.js";
import { DuplicateAccountsError, duplicateReport, findDuplicates } from "./005-unique-ids.js";

const STORES: Dialect[] = process.env.GATEHOUSE_TEST_PG ? ["sqlite", "postgres"] : ["sqlite"];

/** A store as the previous release left it: migrations 1 to 4 only. */
async function previousRelease(db: Kysely<any>, dialect: Dialect): Promise<void> {
  await sql`create table schema_migrations (version integer primary key, name text not null, applied_at bigint not null)`.execute(db);
  for (const m of MIGRATIONS.filter((x) => x.version < 5)) {
    await m.up(db, dialect);
    await db.insertInto("schema_migrations").values({ version: m.version, name: m.name, applied_at: Date.now() }).execute();
  }
}

async function addGroup(db: Kysely<any>, name: string, gid: number, smb = 0): Promise<number> {
  const r = await db.insertInto("groups").values({ gid, name, builtin: 0, smb, sudo_commands: "[]", sudo_commands_nopasswd: "[]" }).returning("id").executeTakeFirstOrThrow();
  return Number(r.id);
}

async function addUser(db: Kysely<any>, username: string, uid: number, home: string, groupId: number, smb = 0, builtin = 0): Promise<number> {
  const r = await db
    .insertInto("users")
    .values({ uid, username, home, shell: "/usr/sbin/nologin", full_name: username, group_id: groupId, smb, builtin, created_at: Date.now() })
    .returning("id")
    .executeTakeFirstOrThrow();
  return Number(r.id);
}

interface Fixture {
  dialect: Dialect;
  db: Kysely<any>;
  open: () => ReturnType<typeof openStore>;
  cleanup: () => Promise<void>;
}

async function fixture(dialect: Dialect): Promise<Fixture> {
  if (dialect === "sqlite") {
    const dir = mkdtempSync(path.join(os.tmpdir(), "gh-m005-"));
    const file = path.join(dir, "gatehouse.db");
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new Database(file) }) });
    return { dialect, db, open: () => openStore({ dataDir: dir, sqliteFile: file }), cleanup: async () => void (await db.destroy(), rmSync(dir, { recursive: true, force: true })) };
  }
  const url = await freshPgDatabase();
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  // An idle connection the server ends (a CI run saw "terminating connection due to administrator
  // command" here) is dropped by the pool and reopened on the next query; without a listener, pg
  // throws it as an uncaught exception that ends the whole test file.
  pool.on("error", () => {});
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
  const cleanup = async () => {
    await db.destroy();
    const admin = new pg.Client({ connectionString: process.env.GATEHOUSE_TEST_PG });
    await admin.connect();
    await admin.query(`drop database if exists ${new URL(url).pathname.slice(1)} with (force)`);
    await admin.end();
  };
  return { dialect, db, open: () => openStore({ url, dataDir: os.tmpdir() }), cleanup };
}

for (const dialect of STORES) {
  test(`[${dialect}] migration 005 reports stored duplicates by value and account, refuses to start, and runs once they are fixed`, async () => {
    const f = await fixture(dialect);
    try {
      const { db } = f;
      await previousRelease(db, dialect);
      // Built-in accounts may share homes (/nonexistent) and are not in the report.
      const nogroup = await addGroup(db, "nogroup", 65534);
      await addUser(db, "nobody", 65534, "/nonexistent", nogroup, 0, 1);
      await addUser(db, "_apt", 100, "/nonexistent", nogroup, 0, 1);
      const g1 = await addGroup(db, "team_a", 3000);
      const g2 = await addGroup(db, "team_b", 3000);
      await addGroup(db, "Staff2", 3001, 1);
      const staffLower = await addGroup(db, "staff2", 3002, 1);
      const alice = await addUser(db, "alice", 3000, "/mnt/p/shared", g1);
      const bob = await addUser(db, "bob", 3000, "/mnt/p/shared/", g2);
      const carolUpper = await addUser(db, "Carol", 3003, "/var/empty", g1, 1);
      const carol = await addUser(db, "carol", 3004, "/var/empty", g1, 1);
      await addUser(db, "dave", 3005, "/var/empty", g1); // /var/empty is shared freely
      const hal = await addUser(db, "hal", 3006, "/mnt/p//solo/", g1); // held once, stored unnormalised

      const dups = await findDuplicates(db);
      assert.deepEqual(
        dups.map((d) => [d.kind, d.value, d.holders.map((h) => h.name)]),
        [
          ["uid", 3000, ["alice", "bob"]],
          ["gid", 3000, ["team_a", "team_b"]],
          ["home", "/mnt/p/shared", ["alice", "bob"]],
          ["smb_name", "carol", ["Carol", "carol"]],
          ["group_smb_name", "staff2", ["Staff2", "staff2"]],
        ],
      );
      const report = duplicateReport(dups);
      for (const line of [
        `uid 3000 is held by 2 users: alice (id ${alice}), bob (id ${bob})`,
        `gid 3000 is held by 2 groups: team_a (id ${g1}), team_b (id ${g2})`,
        `home directory /mnt/p/shared is held by 2 users: alice (id ${alice}), bob (id ${bob})`,
        `SMB user name "carol" (names equal ignoring case) is held by 2 SMB users: Carol (id ${carolUpper}), carol (id ${carol})`,
        `SMB group name "staff2" (names equal ignoring case) is held by 2 SMB groups`,
      ]) {
        assert.ok(report.includes(line), `report lacks "${line}":\n${report}`);
      }
      assert.match(report, /^The store holds 5 duplicate account identifiers; migration 005 \(unique-ids\) cannot/);

      // Migrating fails with that report, and nothing is applied. On SQLite, also through
      // openStore, what server startup runs (a PostgreSQL store left half-open would keep its pool).
      const isReport = (err: Error) => err instanceof DuplicateAccountsError && err.message === report;
      await assert.rejects(runMigrations(db, dialect), isReport);
      if (dialect === "sqlite") await assert.rejects(f.open(), isReport);
      const applied = await db.selectFrom("schema_migrations").select("version").where("version", "=", 5).executeTakeFirst();
      assert.equal(applied, undefined, "migration 5 is not recorded");

      // Fixed: every value held once. The store opens and now refuses duplicates itself.
      await db.updateTable("users").set({ uid: 3010, home: "/mnt/p/bob" }).where("id", "=", bob).execute();
      await db.updateTable("groups").set({ gid: 3011 }).where("id", "=", g2).execute();
      await db.updateTable("groups").set({ smb: 0 }).where("id", "=", staffLower).execute();
      await db.updateTable("users").set({ smb: 0 }).where("id", "=", carol).execute();
      assert.deepEqual(await findDuplicates(db), []);
      const store = await f.open();
      try {
        const s = store.db as unknown as Kysely<any>;
        const halHome = await s.selectFrom("users").select("home").where("id", "=", hal).executeTakeFirstOrThrow();
        assert.equal(halHome.home, "/mnt/p/solo", "stored local homes are normalised");
        const refused = async (write: Promise<unknown>) => {
          try {
            await write;
          } catch (err) {
            return violatedKey(err);
          }
          return "accepted";
        };
        assert.equal(await refused(addUser(s, "eve", 3000, "/var/empty", g1)), "uid");
        assert.equal(await refused(addGroup(s, "team_c", 3000)), "gid");
        assert.equal(await refused(addUser(s, "frank", 3020, "/mnt/p/shared", g1)), "home");
        assert.equal(await refused(addUser(s, "CAROL", 3021, "/var/empty", g1, 1)), "smb_name");
        assert.equal(await refused(addGroup(s, "STAFF2", 3022, 1)), "group_smb_name");
        assert.equal(await refused(addUser(s, "gina", 3023, "/var/empty", g1)), "accepted", "/var/empty stays shared");
        assert.equal(await refused(addUser(s, "sys2", 101, "/nonexistent", nogroup, 0, 1)), "accepted", "built-in homes may repeat");
      } finally {
        await store.close();
      }
    } finally {
      await f.cleanup();
    }
  });
}
