// Host provisioning at --users users (issues 4, 15), every figure beside its baseline in the same
// alternating rounds (bench/measure.ts):
//  1. full regeneration of every file beside plain fs.writeFile of the same bytes — aim ≤ 3× —
//     measured three ways, each with the files removed first so every file is really written:
//     cold (a new provisioner without a model: store read, model build, render), on a running
//     server whose store did not change since its last read (the change stamp says so: no
//     store read, the in-memory model's blocks are reused), and on a running server after a row
//     changed (store read, rows diffed, changed blocks re-rendered); beside them the store read
//     alone, the writer alone, and build + render from scratch with the rows in memory;
//  2. time from a committed single-user change to its files on disk — aim ≤ 200 ms — when the
//     change names its rows (its typed event: `changeOf({ users: [id] })`), and, for comparison,
//     when it does not (a full run).

import { mkdtempSync, rmSync, statSync } from "node:fs";
import { builtinUserBase } from "../src/accounts/system-accounts.js";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import path from "node:path";
import pino from "pino";
import { App } from "../src/app.js";
import { resolveConfig } from "../src/config.js";
import { buildHttpServer, closeAllConnections } from "../src/server/http.js";
import { RpcClient } from "../src/cli/client.js";
import { FILES } from "../src/provision/generate.js";
import { HostModel } from "../src/provision/model.js";
import { Provisioner, absPath } from "../src/provision/provisioner.js";
import { contextOf, provisionerOf } from "../src/provision/index.js";
import { GROUP_COLS, USER_COLS, readSnapshot } from "../src/provision/snapshot.js";
import { sqliteHandleOf, type Db } from "../src/store/db.js";
import { prepareReplace, fsyncDir } from "../src/provision/atomic.js";
import { alternate, figure, DEFAULT_OPTIONS, type BenchOptions, type Row } from "./measure.js";
import type { Section } from "./table.js";
import { buildSearchIndexes, dropSearchIndexes } from "./search-indexes.js";

const HASH = "$6$rounds=656000$abcdefghijklmnop$" + "x".repeat(86);
const NT = "8846F7EAEE8FB117AD06BDD830B7586C";

async function populate(app: App, n: number): Promise<number[]> {
  const db = app.store.db;
  const bu = await db.selectFrom("groups").select("id").where("gid", "=", 545).executeTakeFirstOrThrow();
  const now = Date.now();
  const ids: number[] = [];
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < n; i += 500) {
      const m = Math.min(500, n - i);
      const groups = Array.from({ length: m }, (_, k) => ({
        gid: 100_000 + i + k,
        name: `user${i + k}`,
        builtin: 0,
        smb: 0,
        sudo_commands: "[]",
        sudo_commands_nopasswd: "[]",
        userns_idmap: null,
      }));
      const gids = await trx.insertInto("groups").values(groups).returning("id").execute();
      const users = gids.map((g, k) => ({
        ...builtinUserBase(now),
        uid: 100_000 + i + k,
        username: `user${i + k}`,
        unixhash: HASH,
        smbhash: NT,
        home: "/var/empty",
        shell: "/usr/bin/bash",
        full_name: `User Number ${i + k}`,
        builtin: 0,
        smb: 1,
        group_id: g.id,
        ssh_password_enabled: (i + k) % 10 === 0 ? 1 : 0,
        locked: (i + k) % 97 === 0 ? 1 : 0,
        sudo_commands: (i + k) % 50 === 0 ? '["/usr/bin/id"]' : "[]",
        last_password_change: now,
      }));
      const uids = await trx.insertInto("users").values(users).returning("id").execute();
      await trx
        .insertInto("memberships")
        .values(uids.map((u) => ({ group_id: bu.id, user_id: u.id })))
        .execute();
      ids.push(...uids.map((u) => u.id));
    }
  });
  return ids;
}

async function db_groupId(app: App): Promise<number> {
  const g = await app.store.db.selectFrom("groups").select("id").where("name", "=", "user500").executeTakeFirstOrThrow();
  return g.id;
}

async function removeFiles(hostRoot: string): Promise<void> {
  for (const f of FILES) await rm(absPath(hostRoot, f.rel), { force: true });
}

/** The tables a full run reads, the columns the host files are made of, and each table's chunking key. */
const READ_TABLES = [
  ["users", USER_COLS, '"id"'],
  ["groups", GROUP_COLS, '"id"'],
  ["memberships", ["group_id", "user_id"], "rowid"],
] as const;

/**
 * SQLite: two reads of what a full run reads (the three tables' rows, the columns the host files
 * need), each in one read transaction on a read-only connection of its own, as the provisioner
 * reads — to show where the cold regeneration's store read goes:
 *  - `cells`: the plain columns through the driver, 1,024 rows a call (keyset pagination), every
 *    row dropped at once: what the driver costs before any processing (the provisioner's own
 *    read packs the rare and boolean columns into fewer cells: src/provision/snapshot.ts);
 *  - `decode`: SQLite reading every one of those cells with no value handed to JavaScript (the
 *    sum of their lengths): the part no reader through this database avoids.
 * Null on PostgreSQL (and for an in-memory store).
 */
function storeReads(db: Db): { cells: () => Promise<number>; decode: () => Promise<number> } | null {
  const raw = sqliteHandleOf(db);
  if (!raw || raw.memory) return null;
  const Ctor = raw.constructor as new (file: string, opts: { readonly: boolean; fileMustExist: boolean }) => NonNullable<typeof raw>;
  const list = (cols: readonly string[]) => cols.map((c) => `"${c}"`).join(", ");
  const timedRead = (readTable: (reader: NonNullable<typeof raw>, table: string, cols: readonly string[], key: string) => number) => async () => {
    const reader = new Ctor(raw.name, { readonly: true, fileMustExist: true });
    try {
      const t = performance.now();
      reader.exec("BEGIN");
      let rows = 0;
      for (const [table, cols, key] of READ_TABLES) rows += readTable(reader, table, cols, key);
      reader.exec("COMMIT");
      const ms = performance.now() - t;
      if (rows === 0) throw new Error("store read: no rows");
      return ms;
    } finally {
      reader.close();
    }
  };
  return {
    cells: timedRead((reader, table, cols, key) => {
      const st = reader.prepare(`select ${key}, ${list(cols)} from "${table}" where ${key} > ? order by ${key} limit 1024`).raw();
      let rows = 0;
      for (let last: unknown = -1; ; ) {
        const chunk = st.all(last) as unknown[][];
        rows += chunk.length;
        if (chunk.length < 1024) return rows;
        last = chunk[chunk.length - 1]![0];
      }
    }),
    decode: timedRead(
      (reader, table, cols) =>
        reader
          .prepare(`select count(*) + coalesce(sum(${cols.map((c) => `length("${c}")`).join(" + ")}), 0) from "${table}"`)
          .pluck()
          .get() as number,
    ),
  };
}

/** Plain fs.writeFile of `bufs` into a fresh directory: ms. */
async function plainWrite(dir: string, bufs: Buffer[]): Promise<number> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const t = performance.now();
  for (let i = 0; i < bufs.length; i++) await writeFile(path.join(dir, String(i)), bufs[i]);
  return performance.now() - t;
}

/** Atomic replace of every file (temp file, one writev, fsync, rename, dir fsync) into a fresh `dir`. */
async function atomicWrite(dir: string, parts: Record<string, Parameters<typeof prepareReplace>[1]>): Promise<void> {
  await Promise.all(FILES.map(async (f) => (await prepareReplace(path.join(dir, f.id), parts[f.id], { uid: 0, gid: 0, mode: f.mode })).rename()));
  await fsyncDir(dir);
}

interface ProvCtx {
  app: App;
  prov: Provisioner;
  ctx: ReturnType<typeof contextOf>;
  hostRoot: string;
  dataDir: string;
  ids: number[];
  rounds: number;
  users: number;
}

/** Full regeneration of every file, three ways, and its parts, beside fs.writeFile of the same bytes. */
async function fullRows(c: ProvCtx): Promise<{ rows: Row[]; notes: string[] }> {
  const { prov, ctx, hostRoot, dataDir, ids, app } = c;
  const sizeMb = (FILES.reduce((n, f) => n + statSync(absPath(hostRoot, f.rel)).size, 0) / 1e6).toFixed(1);
  const snap = await readSnapshot(ctx.db, ctx.dialect);
  const bytes = await Promise.all(FILES.map((f) => readFile(absPath(hostRoot, f.rel))));
  const rendered = HostModel.fromSnapshot(snap).renderAll();
  // The event loop's longest wait during each full run (API calls wait as long): provisioning
  // works in turns of a few milliseconds (src/provision/slice.ts).
  const longestStall: Record<string, number[]> = {};
  // Each full run with the files removed first, so every file is really written.
  const fullRun = async (kind: "cold" | "unchanged" | "changed", r: number) => {
    if (kind === "unchanged") await prov.provisionNow(); // the running server's model in line with the store
    await removeFiles(hostRoot);
    // a row changed since the running server's last read (no hint: the next full run must find it)
    if (kind === "changed")
      await app.store.db
        .updateTable("users")
        .set({ full_name: `Bench change ${r}` })
        .where("id", "=", ids[(r * 997) % ids.length])
        .execute();
    const p = kind === "cold" ? new Provisioner(ctx, { reconcileMs: 0 }) : prov;
    const stalls = monitorEventLoopDelay({ resolution: 1 });
    stalls.enable();
    const t = performance.now();
    const res = await p.provisionNow();
    const ms = performance.now() - t;
    stalls.disable();
    (longestStall[kind] ??= []).push(stalls.max / 1e6);
    if (kind === "cold") await p.stop();
    if (res.written.length < FILES.length) throw new Error(`full run wrote ${res.written.length} files`);
    if (res.skippedRead !== (kind === "unchanged")) throw new Error(`${kind} full run: skippedRead ${res.skippedRead}`);
    return ms;
  };
  const timed = async (fn: () => Promise<unknown>) => {
    const t = performance.now();
    await fn();
    return performance.now() - t;
  };
  const freshDir = async (name: string) => {
    const d = path.join(dataDir, name);
    await rm(d, { recursive: true, force: true });
    await mkdir(d, { recursive: true });
    return d;
  };
  // Seven full regenerations (or their parts) a round, every round: each figure is the median of
  // at least 5 runs (issue 15), at 1,000,000 users too.
  const rounds = c.rounds;
  const reads = storeReads(app.store.db);
  const m = await alternate(rounds, {
    ...(reads ?? {}),
    plain: () => plainWrite(path.join(dataDir, "plain"), bytes),
    cold: (r) => fullRun("cold", r),
    unchanged: (r) => fullRun("unchanged", r),
    changed: (r) => fullRun("changed", r),
    read: () => timed(() => readSnapshot(ctx.db, ctx.dialect)),
    atomic: async () => {
      const d = await freshDir("atomic");
      return timed(() => atomicWrite(d, rendered));
    },
    renderWrite: async () => {
      const d = await freshDir("render");
      return timed(() => atomicWrite(d, HostModel.fromSnapshot(snap).renderAll()));
    },
  });
  const row = (name: string, value: number[], aim?: string): Row =>
    figure({
      name,
      unit: "ms",
      value,
      baseline: m.plain,
      baselineName: "fs.writeFile of the same bytes",
      ratioAsTimes: true,
      better: "lower",
      aim,
    });
  const memberships = [...snap.members.values()].reduce((n, x) => n + x.length, 0);
  return {
    rows: [
      row("provision: full regeneration, cold (new provisioner, no model — as after a restart): store read, model build, render, atomic replace + fsync", m.cold, "≤ 3×"),
      figure({
        name: "provision: full regeneration, cold (as after a restart: the store read in one streaming pass), beside writing the same files the same atomic way from prepared buffers",
        unit: "ms",
        value: m.cold,
        baseline: m.atomic,
        baselineName: "atomic replace of the same files from prepared buffers (temp file, writev, fsync, rename, directory fsync)",
        ratioAsTimes: true,
        better: "lower",
        aim: "≤ 10× at 100,000 users",
      }),
      row(
        "provision: full regeneration, running server, store unchanged since its last read (change stamp): no store read; render from the in-memory model (unchanged blocks reused) + atomic replace + fsync of every file",
        m.unchanged,
        "≤ 3×",
      ),
      row(
        "provision: full regeneration, running server, one user row changed since its last read (no hint): store read, rows diffed, changed blocks re-rendered, atomic replace + fsync of every file",
        m.changed,
        "≤ 3×",
      ),
      row("provision: of which the store read alone (one read transaction: users, groups, memberships, policy)", m.read),
      ...(m.cells && m.decode
        ? [
            row("provision: beside the store read: the same tables' plain columns through the driver, 1,024 rows a call, no processing", m.cells),
            row("provision: beside the store read: SQLite decoding every one of those cells, no value handed to JavaScript", m.decode),
          ]
        : []),
      row("provision: of which the writer alone — atomic replace (temp file, writev, fsync, rename, directory fsync)", m.atomic),
      row("provision: model build + render of every block from scratch + atomic replace + fsync, rows already in memory (no store read)", m.renderWrite),
    ],
    notes: [
      ...(rounds < c.rounds ? [`the full-regeneration rows: ${rounds} rounds at this size (seven full runs or their parts a round)`] : []),
      `longest event-loop delay during a full run (ms, per round): ${Object.entries(longestStall)
        .map(([k, v]) => `${k} ${v.map((x) => x.toFixed(0)).join("/")}`)
        .join("; ")}`,
      `the host files: ${FILES.length} files, ${sizeMb} MB; the store: ${snap.users.length.toLocaleString("en-US")} users, ${snap.groups.length.toLocaleString("en-US")} groups, ${memberships.toLocaleString("en-US")} memberships (${ctx.dialect})`,
    ],
  };
}

/** Committed single-user changes (through the API) → their files on disk, beside fs.writeFile of those files. */
async function latencyRows(c: ProvCtx, client: RpcClient, notes: string[]): Promise<Row[]> {
  const { app, prov, dataDir, ids } = c;
  await prov.provisionNow();
  let t0 = 0;
  let done: Promise<number> | null = null;
  // registered after the provisioner's own listener: the run it waits for is already scheduled
  app.onChange(() => {
    t0 = performance.now();
    done = prov.whenIdle().then(() => performance.now() - t0);
  });
  const once = async (change: () => Promise<unknown>) => {
    await prov.whenIdle();
    done = null;
    await change();
    if (!done) throw new Error("the change did not announce itself (App.changed)");
    const ms = await (done as Promise<number>);
    if (prov.lastError) throw prov.lastError;
    return { ms, written: prov.lastResult?.written ?? [], full: prov.lastResult?.full ?? false };
  };
  const pick = (r: number) => ids[Math.floor(((r % 7) + 0.5) * (ids.length / 7))];
  const names = (w: string[]) => w.map((f) => path.basename(f)).join(", ");
  const grp = await db_groupId(app);
  const kinds = [
    { what: "user.update (password)", change: (r: number) => client.call("user.update", pick(r), { password: `Changed-pass-${r}-x` }) },
    { what: "user.update (full_name)", change: (r: number) => client.call("user.update", pick(r), { full_name: `Renamed ${r}` }) },
    { what: "group.update (sudo)", change: (r: number) => client.call("group.update", grp, { sudo_commands: r % 2 ? ["/usr/bin/id"] : [] }) },
  ];
  const rows: Row[] = [];
  let seq = 1000; // each change differs from the last, so it really changes a row
  for (const k of kinds) {
    // A first change tells which files such a change writes: the baseline writes the same files.
    let last = await once(() => k.change(seq++));
    let full = last.full;
    const m = await alternate(c.rounds, {
      change: async () => {
        last = await once(() => k.change(seq++));
        full ||= last.full;
        return last.ms;
      },
      plain: async () => plainWrite(path.join(dataDir, "plain2"), await Promise.all(last.written.map((f) => readFile(f)))),
    });
    notes.push(`${k.what} wrote ${names(last.written)}${full ? " (a full run)" : ""}`);
    rows.push(
      figure({
        name: `provision: ${k.what} committed → its files on disk`,
        unit: "ms",
        value: m.change,
        baseline: m.plain,
        baselineName: "fs.writeFile of the same files",
        ratioAsTimes: true,
        better: "lower",
        aim: "≤ 200 ms",
      }),
    );
  }
  return rows;
}

export async function run(opts: BenchOptions): Promise<Section[]> {
  process.env.GATEHOUSE_PROVISION_RECONCILE_MS = "0";
  // Nor a periodic full run (default every 60 s): at 1,000,000 users a round's full runs take
  // minutes, and the app's own periodic run then wrote the removed files back in the middle of a
  // measured run, which found them in place and wrote none ("full run wrote 0 files").
  process.env.GATEHOUSE_PROVISION_INTERVAL_MS = "0";
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "gh-bench-prov-"));
  const config = resolveConfig({ dataDir, host: "127.0.0.1", port: 0, logLevel: "silent", hashRounds: 1000 }, {});
  const app = await App.create(config, { log: pino({ level: "silent" }) });
  const server = await buildHttpServer(app);
  let client: RpcClient | null = null;
  // Where a tier's time goes, on stderr (the 1,000,000 tier must finish within 20 minutes).
  let lapStart = performance.now();
  const lap = (what: string) => {
    process.stderr.write(`[bench provision] ${what}: ${((performance.now() - lapStart) / 1000).toFixed(1)} s\n`);
    lapStart = performance.now();
  };
  try {
    const prov = provisionerOf(app);
    await prov.whenIdle();
    // Loaded without the search indexes (no FTS5 trigger run per row), which are then built: the
    // store the figures meet is the same, its loading minutes shorter at 1,000,000 users.
    await dropSearchIndexes(app.store.db);
    const ids = await populate(app, opts.users);
    await buildSearchIndexes(app.store.db);
    lap(`populated ${opts.users.toLocaleString("en-US")} users (search indexes built after)`);
    await prov.provisionNow();
    lap("first provisioning run");
    const c: ProvCtx = { app, prov, ctx: contextOf(app), hostRoot: config.hostRoot, dataDir, ids, rounds: opts.rounds, users: opts.users };
    const full = await fullRows(c);
    lap("full regeneration rows");

    await server.listen({ host: "127.0.0.1", port: 0 });
    const addr = server.server.address();
    client = await RpcClient.connect(`ws://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}/api/current`);
    await client.call("user.setup_local_administrator", "admin", "Bench-admin-pw1");
    await client.login("admin", "Bench-admin-pw1");
    const latency = await latencyRows(c, client, full.notes);
    lap("change-to-disk rows");
    return [{ title: `Host provisioning [sqlite], ${opts.users.toLocaleString("en-US")} users (issues 4, 15)`, rows: [...full.rows, ...latency], notes: full.notes }];
  } finally {
    await client?.close().catch(() => undefined);
    closeAllConnections(server);
    await server.close();
    await app.shutdown();
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// `node --import tsx --expose-gc bench/provision.bench.ts` prints the rows at the defaults
// (bench/run.ts provision takes the flags).
if (import.meta.url === `file://${process.argv[1]}`) {
  const { printTable } = await import("./table.js");
  for (const sec of await run(DEFAULT_OPTIONS)) printTable(sec.title, sec.rows, sec.notes);
  process.exit(0);
}
