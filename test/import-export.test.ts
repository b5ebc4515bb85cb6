// Import and export (issue 13 point 6), on both stores:
// - round trip: 100,000 users on SQLite (10,000 on PostgreSQL) with pre-hashed passwords,
//   memberships, keys and sudo rules: export → import into a store holding only built-ins →
//   export gives identical JSON and CSV files; the import rate is printed (aim ≥ 20,000 users/s);
// - a CSV of 1,000 rows with 10 bad ones imports nothing and names the 10 (line and field):
//   through the real `gatehouse import` command on SQLite, through the same import function on
//   PostgreSQL (the command's own behaviour does not depend on the store: one run of it);
// - --dry-run writes nothing; --with-hashes needs a file, which is created 0600 and audited;
// - on SQLite the bulk write's trigram indexes (filled in one statement, triggers dropped and
//   recreated in the transaction) pass FTS5's integrity check, and a failed write leaves nothing.
//
// Time: the 100,000 users are generated and imported once per store; the stores of the round trip
// do not provision host files in the background (nothing here reads them; provisioning an import
// is test/provision*.test.ts's), and the job tests share one server per store.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { App } from "../src/app.js";
import { resolveConfig } from "../src/config.js";
import { sql } from "kysely";
import { importAccounts, insertUsers, validateImport, withBulkSearchIndex, type RowError } from "../src/accounts/import.js";
import { formatRowError } from "../src/cli/transfer.js";
import { readExport, renderExport, renderGroupsCsv } from "../src/accounts/export.js";
import { readAccountsFile, type RawRecord } from "../src/accounts/transfer-format.js";
import { clientWithRoles, forEachStore, freshPgDatabase, rememberStoreKey, shareStoreKey, startServer, type TestServer } from "./harness.js";
import { GATEHOUSE_ARGS } from "./gatehouse-command.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl user@import";
// A well-formed SHA-512 crypt hash (pre-hashed passwords: nothing is hashed on import).
const HASH = `$6$rounds=5000$saltsaltsaltsalt$${"A".repeat(86)}`;

let scratch: string;
before(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), "gh-import-"));
});
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Provisioning env of a store that must not provision 100,000 users in the background. */
const NO_BACKGROUND_PROVISIONING = { GATEHOUSE_PROVISION_REMOTE_MS: "0", GATEHOUSE_PROVISION_INTERVAL_MS: "0" };

async function newApp(database: string | undefined, storageRoot: string, env: Record<string, string> = {}): Promise<App> {
  const dataDir = mkdtempSync(path.join(scratch, "store-"));
  shareStoreKey(database, dataDir);
  const config = { ...resolveConfig({ dataDir, database, port: 0, hashRounds: 1000, logLevel: "silent", storageRoot: [storageRoot] }, {}), failDelay: [0, 0] as [number, number] };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    const app = await App.create(config, { log: pino({ level: "silent" }) });
    rememberStoreKey(database, dataDir);
    return app;
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

async function closeApp(app: App): Promise<void> {
  await app.shutdown();
  await app.close();
}

/** n users in n/10 groups: every user in a private-ish primary group, some in two more. */
function generated(n: number, storageRoot: string): RawRecord[] {
  const out: RawRecord[] = [];
  const groups = Math.max(1, Math.floor(n / 10));
  for (let i = 0; i < groups; i++) {
    out.push({
      kind: "groups",
      line: 0,
      values: {
        name: `team${i}`,
        gid: 200_000 + i,
        smb: i % 2 === 0,
        sudo_commands: i === 0 ? ["/usr/bin/true"] : [],
        sudo_commands_nopasswd: [],
        userns_idmap: null,
        // gshadow group administrators (by name: the file's users, and the store's root)
        admins: i === 0 ? ["user1", "user0"] : i === 1 ? ["root"] : [],
      },
    });
  }
  for (let i = 0; i < n; i++) {
    out.push({
      kind: "users",
      line: 0,
      values: {
        username: `user${i}`,
        uid: 100_000 + i,
        full_name: `User Number ${i}`,
        email: i % 3 === 0 ? `user${i}@example.com` : null,
        group: 200_000 + (i % groups),
        groups: i % 5 === 0 ? [200_000 + ((i + 1) % groups), 545] : [],
        home: i % 100 === 0 ? `${storageRoot}/homes/user${i}` : "/var/empty",
        shell: "/usr/sbin/nologin",
        smb: i % 7 === 0,
        password_disabled: false,
        ssh_password_enabled: false,
        locked: i % 11 === 0,
        sshpubkey: i % 100 === 0 ? `${KEY}\n${KEY.replace("user@import", "second")}` : null,
        sudo_commands: i === 1 ? ["/usr/bin/ls"] : [],
        sudo_commands_nopasswd: [],
        userns_idmap: null,
        unixhash: HASH,
        smbhash: i % 7 === 0 ? "0123456789ABCDEF0123456789ABCDEF" : "*",
        last_password_change: 1_700_000_000_000,
      },
    });
  }
  return out;
}

function exportText(data: Awaited<ReturnType<typeof readExport>>, withHashes: boolean): { json: string; csv: string; groupsCsv: string } {
  return { json: [...renderExport(data, "json", { withHashes })].join(""), csv: [...renderExport(data, "csv", { withHashes })].join(""), groupsCsv: [...renderGroupsCsv(data)].join("") };
}

forEachStore("import and export", (store) => {
  // GATEHOUSE_IMPORT_TEST_USERS lowers the count for a quick local run
  const n = Number(process.env.GATEHOUSE_IMPORT_TEST_USERS ?? 0) || (store === "sqlite" ? 100_000 : 10_000);

  test(`round trip of ${n.toLocaleString("en")} users: export → import into an empty store → export is identical`, { timeout: 300_000 }, async () => {
    const storageRoot = mkdtempSync(path.join(scratch, "mnt-"));
    const a = await newApp(store === "postgres" ? await freshPgDatabase() : undefined, storageRoot, NO_BACKGROUND_PROVISIONING);
    const b = await newApp(store === "postgres" ? await freshPgDatabase() : undefined, storageRoot, NO_BACKGROUND_PROVISIONING);
    try {
      const ctxA = { db: a.store.db, dialect: a.store.dialect, config: a.config };
      const t0 = performance.now();
      const first = await importAccounts(ctxA, generated(n, storageRoot));
      const ms = performance.now() - t0;
      assert.deepEqual(first.errors, []);
      assert.equal(first.users, n);
      process.stdout.write(`# ${store}: imported ${n} users in ${Math.round(ms)} ms (${Math.round((n / ms) * 1000)} users/s, pre-hashed)\n`);
      const one = exportText(await readExport(a.store.db, { withHashes: true }), true);
      // group administrators exported by name, in their order (assert.ok: the file is megabytes)
      assert.ok(/"name":"team0",[^\n]*"admins":\["user1","user0"\]/.test(one.json), "team0's administrators exported by name, in order");
      assert.ok(/"name":"team1",[^\n]*"admins":\["root"\]/.test(one.json), "team1's administrator, a built-in account, exported");
      if (store === "sqlite") await assertTrigramIndexes(a);
      // the exported files, read back, into a store holding only built-ins
      const ctxB = { db: b.store.db, dialect: b.store.dialect, config: b.config };
      const r = await importAccounts(ctxB, readAccountsFile(one.json));
      assert.deepEqual(r.errors, []);
      assert.equal(r.users, n);
      const two = exportText(await readExport(b.store.db, { withHashes: true }), true);
      assert.ok(one.json === two.json, "JSON export identical");
      assert.ok(one.csv === two.csv, "CSV export identical");
      assert.ok(one.groupsCsv === two.groupsCsv, "groups CSV identical");
      // the CSV pair imports to the same store too (users and groups files, keys with escaped
      // newlines); once per run, on the smaller PostgreSQL set, to keep the test short
      const c = store === "postgres" ? await newApp(await freshPgDatabase(), storageRoot, NO_BACKGROUND_PROVISIONING) : null;
      if (c)
        try {
          const r3 = await importAccounts({ db: c.store.db, dialect: c.store.dialect, config: c.config }, [...readAccountsFile(one.groupsCsv), ...readAccountsFile(one.csv)]);
          assert.deepEqual(r3.errors, []);
          const three = exportText(await readExport(c.store.db, { withHashes: true }), true);
          assert.ok(three.json === one.json, "CSV import gives the same store");
        } finally {
          await closeApp(c);
        }
      assert.match(one.csv.split("\n")[1], /^user0,100000,/);
      assert.ok(one.csv.includes("\\nssh-ed25519"), "SSH keys keep one line per user, newlines escaped");
      // without --with-hashes no hash leaves the store
      const plain = exportText(await readExport(a.store.db), false);
      assert.ok(!plain.json.includes("$6$") && !plain.csv.includes("unixhash"), "no hashes without withHashes");
    } finally {
      await closeApp(a);
      await closeApp(b);
    }
  });

  test(`a CSV of 1,000 rows with 10 bad ones imports nothing and names the 10 (${store === "sqlite" ? "gatehouse import" : "the import function"})`, { timeout: 240_000 }, async () => {
    const storageRoot = mkdtempSync(path.join(scratch, "mnt-"));
    const database = store === "postgres" ? await freshPgDatabase() : undefined;
    const app = await newApp(database, storageRoot);
    const dataDir = app.config.dataDir;
    await closeApp(app);
    const header = "username,uid,full_name,email,group,groups,home,shell,smb,password_disabled,ssh_password_enabled,locked,sshpubkey,sudo_commands,sudo_commands_nopasswd,userns_idmap,unixhash";
    const rows = [header];
    const bad = new Map<number, string>(); // line → field
    for (let i = 0; i < 1000; i++) {
      let cells = [`csv${i}`, String(300_000 + i), `CSV ${i}`, "", "545", "[]", "/var/empty", "/usr/sbin/nologin", "false", "false", "false", "false", "", "[]", "[]", "", HASH];
      const line = i + 2;
      if (i % 100 === 7) {
        const k = (i / 100) | 0;
        const field = ["uid", "username", "email", "group", "shell", "unixhash", "home", "groups", "sudo_commands", "locked"][k];
        bad.set(line, field);
        const col = header.split(",").indexOf(field);
        cells = cells.slice();
        cells[col] = {
          uid: "12x",
          username: "9bad",
          email: "not-an-address",
          group: "424242",
          shell: "/bin/nonesuch",
          unixhash: "plaintext",
          home: "relative/home",
          groups: "[546]",
          sudo_commands: '"[""ALL"", 5]"',
          locked: "maybe",
        }[field]!;
      }
      rows.push(cells.join(","));
    }
    const file = path.join(scratch, `bad-${store}.csv`);
    writeFileSync(file, `${rows.join("\n")}\n`);
    const good = [rows[0], ...rows.slice(1).filter((_, i) => !bad.has(i + 2))];
    if (store === "postgres") {
      // the same file through the function the command calls, on this store
      const pg = await newAppAt(dataDir, database, storageRoot);
      try {
        const ctx = { db: pg.store.db, dialect: pg.store.dialect, config: pg.config };
        const refused = await importAccounts(ctx, readAccountsFile(readFileSync(file, "utf8")));
        assert.deepEqual([refused.refused, refused.users], [true, 0]);
        assert.deepEqual(
          [...new Set(refused.errors.map((e) => e.line))].sort((x, y) => x - y),
          [...bad.keys()].sort((x, y) => x - y),
          "exactly the 10 bad lines",
        );
        for (const e of refused.errors) assert.equal(e.field.split(".")[0], bad.get(e.line), `line ${e.line} names its field`);
        assert.equal((await readExport(pg.store.db)).users.length, 0, "the refused import wrote nothing");
        const goodRecords = readAccountsFile(`${good.join("\n")}\n`);
        const dry = await importAccounts(ctx, goodRecords, { dryRun: true });
        assert.deepEqual([dry.users, dry.groups, dry.errors.length, dry.refused], [990, 0, 0, false]);
        assert.equal((await readExport(pg.store.db)).users.length, 0, "a dry run writes nothing");
        assert.equal((await importAccounts(ctx, goodRecords)).users, 990);
        assert.equal((await readExport(pg.store.db)).users.length, 990);
      } finally {
        await closeApp(pg);
      }
      return;
    }
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [...GATEHOUSE_ARGS, ...args, "--data-dir", dataDir, ...(database ? ["--database", database] : []), "--storage-root", storageRoot], {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, GATEHOUSE_HASH_ROUNDS: "1000" },
      });
    const r = cli("import", file, "--json");
    assert.equal(r.status, 1, r.stderr);
    const out = JSON.parse(r.stdout) as { refused: boolean; users: number; errors: RowError[] };
    assert.equal(out.refused, true);
    assert.equal(out.users, 0);
    assert.deepEqual(
      [...new Set(out.errors.map((e) => e.line))].sort((x, y) => x - y),
      [...bad.keys()].sort((x, y) => x - y),
      "exactly the 10 bad lines",
    );
    for (const e of out.errors) assert.equal(e.field.split(".")[0], bad.get(e.line), `line ${e.line} names its field`);
    // readable form: one line per problem naming line and field
    assert.match(out.errors.map(formatRowError).join("\n"), /^line 9 \(csv7\): uid: /m);
    // nothing was imported; the 990 good rows: a dry run says what would change and writes nothing
    writeFileSync(file, `${good.join("\n")}\n`);
    const mid = await newAppAt(dataDir, database, storageRoot);
    try {
      assert.equal((await readExport(mid.store.db)).users.length, 0, "the refused import wrote nothing");
      const dry = await importAccounts({ db: mid.store.db, dialect: mid.store.dialect, config: mid.config }, readAccountsFile(readFileSync(file, "utf8")), { dryRun: true });
      assert.deepEqual([dry.users, dry.groups, dry.errors.length, dry.refused], [990, 0, 0, false]);
      assert.equal((await readExport(mid.store.db)).users.length, 0, "a dry run writes nothing");
    } finally {
      await closeApp(mid);
    }
    const real = cli("import", file, "--no-progress");
    assert.equal(real.status, 0, real.stderr);
    assert.match(real.stdout, /imported 0 group\(s\), 990 user\(s\)/);
    // hashes only into a 0600 file
    assert.notEqual(cli("export", "--with-hashes").status, 0, "--with-hashes without --output is refused");
    const out2 = path.join(scratch, `with-hashes-${store}.json`);
    const wh = cli("export", "--with-hashes", "--output", out2);
    assert.equal(wh.status, 0, wh.stderr);
    assert.equal(statSync(out2).mode & 0o777, 0o600);
    assert.ok(readFileSync(out2, "utf8").includes(HASH));
    // both audited
    const check = await newAppAt(dataDir, database, storageRoot);
    try {
      const rows2 = await check.store.db.selectFrom("audit").select(["event_data"]).where("event", "=", "METHOD_CALL").execute();
      const methods = rows2.map((x) => JSON.parse(x.event_data).method);
      assert.ok(methods.includes("user.import"), "import audited");
      assert.ok(
        rows2.some((x) => /with password hashes/.test(x.event_data)),
        "export with hashes audited",
      );
    } finally {
      await closeApp(check);
    }
  });
});

// One server per store for both job tests (each makes its own accounts).
forEachStore("user.export and user.import jobs", (store) => {
  let ts: TestServer;
  before(async () => {
    ts = await startServer({ store });
  });
  after(async () => {
    await ts?.stop();
  });

  test("a job offers the file once through the job-bound download; hashes only for FULL_ADMIN", { timeout: 120_000 }, async () => {
    const admin = await ts.adminClient();
    await admin.call("user.create", { username: "exported1", full_name: "Exported One", password: "Exported-pass-1", smb: false, group_create: true });
    const ro = await clientWithRoles(ts, ["READONLY_ADMIN"]);
    const r = (await ro.client.callJob("user.export", { format: "CSV" })) as { url: string; users: number };
    assert.ok(r.users >= 2);
    const res = await fetch(`${ts.httpUrl}${r.url}`);
    assert.equal(res.status, 200);
    const csv = await res.text();
    assert.match(csv, /^username,uid,/);
    assert.match(csv, /^exported1,/m);
    assert.doesNotMatch(csv, /\$6\$/, "no hashes");
    assert.equal((await fetch(`${ts.httpUrl}${r.url}`)).status, 404, "one download");
    // the job fails (its error carries the reason) and offers nothing
    await assert.rejects(ro.client.callJob("user.export", { format: "JSON", with_hashes: true }), /exporting password hashes requires the FULL_ADMIN role/);
    const full = (await admin.callJob("user.export", { format: "JSON", with_hashes: true })) as { url: string };
    const doc = readAccountsFile(await (await fetch(`${ts.httpUrl}${full.url}`)).text());
    const mine = doc.find((x) => x.values.username === "exported1");
    assert.match(String(mine?.values.unixhash), /^\$6\$/);
  });

  test("the file goes through the job-bound upload; the job imports it and names bad rows; FULL_ADMIN only", { timeout: 120_000 }, async () => {
    const admin = await ts.adminClient();
    const jobOf = async (id: number) =>
      ((await admin.call("core.get_jobs", [["id", "=", id]])) as { state: string; result: any; error: string; progress: { extra: { upload_url?: string } | null } }[])[0];
    const run = async (body: string, opts: object) => {
      const id = await admin.call<number>("user.import", opts);
      let url: string | undefined;
      for (let i = 0; i < 200 && !url; i++) {
        url = (await jobOf(id))?.progress.extra?.upload_url;
        if (!url) await new Promise((r) => setTimeout(r, 25));
      }
      assert.ok(url, "the job offers an upload URL");
      const put = await fetch(`${ts.httpUrl}${url}`, { method: "PUT", headers: { "content-type": "text/csv" }, body });
      assert.equal(put.status, 200);
      assert.equal((await fetch(`${ts.httpUrl}${url}`, { method: "PUT", body })).status, 404, "one upload");
      for (;;) {
        const j = await jobOf(id);
        if (j.state === "SUCCESS") return j.result;
        if (j.state === "FAILED") throw new Error(j.error);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    const header = "username,uid,full_name,group,shell,unixhash";
    const bad = `${header}\njobuser1,310001,Job User,545,/usr/sbin/nologin,${HASH}\njobuser2,12x,Job User 2,545,/usr/sbin/nologin,${HASH}\n`;
    const refused = await run(bad, {});
    assert.equal(refused.refused, true);
    assert.deepEqual(
      refused.errors.map((e: { line: number; field: string }) => [e.line, e.field]),
      [[3, "uid"]],
    );
    const good = await run(`${header}\njobuser1,310001,Job User,545,/usr/sbin/nologin,${HASH}\n`, {});
    assert.equal(good.users, 1);
    const u = (await admin.call("user.query", [["username", "=", "jobuser1"]])) as { uid: number }[];
    assert.equal(u[0]?.uid, 310001);
    const ro = await clientWithRoles(ts, ["READONLY_ADMIN"]);
    await assert.rejects(ro.client.call("user.import", {}), /EPERM|Not authorized|not authorized/i);
  });
});

async function newAppAt(dataDir: string, database: string | undefined, storageRoot: string): Promise<App> {
  const config = { ...resolveConfig({ dataDir, database, port: 0, hashRounds: 1000, logLevel: "silent", storageRoot: [storageRoot] }, {}), failDelay: [0, 0] as [number, number] };
  return App.create(config, { log: pino({ level: "silent" }) });
}

/** FTS5's own check that each trigram index holds exactly its column of every users row. */
async function assertTrigramIndexes(app: App): Promise<void> {
  for (const t of ["users_trgm_username", "users_trgm_full_name"]) await sql.raw(`insert into ${t}(${t}, rank) values ('integrity-check', 1)`).execute(app.store.db);
  const triggers = await sql<{ name: string }>`select name from sqlite_master where type = 'trigger' and name like 'users_trgm_%' order by name`.execute(app.store.db);
  assert.deepEqual(
    triggers.rows.map((r) => r.name),
    ["users_trgm_full_name_ad", "users_trgm_full_name_ai", "users_trgm_full_name_au", "users_trgm_username_ad", "users_trgm_username_ai", "users_trgm_username_au"],
    "the insert triggers are back after the bulk write",
  );
}

describe("bulk write on SQLite", () => {
  test("a bulk write that fails leaves no row, the trigram index as it was and its triggers in place", async () => {
    const storageRoot = mkdtempSync(path.join(scratch, "mnt-"));
    const app = await newApp(undefined, storageRoot);
    try {
      const count = async () => Number((await sql<{ n: number }>`select count(*) as n from users`.execute(app.store.db)).rows[0]?.n);
      const before = await count();
      const u = readAccountsFile(`username,uid,full_name,group,shell,unixhash\nbulkfail,330001,Bulk Fail,545,/usr/sbin/nologin,${HASH}\n`);
      const v = await validateImport({ db: app.store.db, dialect: app.store.dialect, config: app.config }, u);
      assert.equal(v.users.length, 1);
      await assert.rejects(
        app.store.db.transaction().execute(async (trx) => {
          await withBulkSearchIndex(trx, "sqlite", async () => {
            await insertUsers(trx, "sqlite", v.users);
            throw new Error("failed half-way");
          });
        }),
        /failed half-way/,
      );
      assert.equal(await count(), before, "nothing written");
      await assertTrigramIndexes(app);
      // and the triggers work again: a later import is found by a substring search
      const r = await importAccounts({ db: app.store.db, dialect: app.store.dialect, config: app.config }, u);
      assert.equal(r.users, 1);
      await assertTrigramIndexes(app);
      const hit = await sql<{ n: number }>`select count(*) as n from users_trgm_username where users_trgm_username match 'lkf'`.execute(app.store.db);
      assert.equal(Number(hit.rows[0]?.n), 1);
    } finally {
      await closeApp(app);
    }
  });
});
