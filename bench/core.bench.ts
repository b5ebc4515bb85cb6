// Core figures (issue 2): user.query at 100,000 users / 20,000 groups over one WebSocket, beside a
// bare JSON-RPC echo on the same WebSocket library and the same SQL run directly on the store.

import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import Fastify from "fastify";
import websocket from "@fastify/websocket";
import pino from "pino";
import { sql } from "kysely";
import { App } from "../src/app.js";
import { resolveConfig } from "../src/config.js";
import { buildHttpServer, closeAllConnections } from "../src/server/http.js";
import { RpcClient } from "../src/cli/client.js";
import type { Row } from "./table.js";
import type { Db } from "../src/store/db.js";
import { provisionerOf } from "../src/provision/index.js";

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
export const USERS = Number(process.env.BENCH_USERS ?? 100_000);
export const GROUPS = Number(process.env.BENCH_GROUPS ?? 20_000);
const CALLS = Number(process.env.BENCH_CALLS ?? 20_000);
const INFLIGHT = 16; // below the 20 concurrent calls a connection may have
const ADMIN_PW = "Bench-admin-pw1";

interface LoadResult {
  callsPerSec: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(url: string, requests: { method: string; params: unknown[] }[], calls = CALLS, inflight = INFLIGHT, login = true, warmup = true): Promise<LoadResult> {
  const spec = { url, calls, inflight, requests, warmup, login: login ? { username: "admin", password: ADMIN_PW } : undefined };
  const file = path.join(os.tmpdir(), `gatehouse-load-${process.pid}-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(spec));
  try {
    const { stdout } = await run(process.execPath, ["--import", "tsx", path.join(here, "load-client.ts"), `@${file}`], { maxBuffer: 1 << 20 });
    return JSON.parse(stdout) as LoadResult;
  } finally {
    rmSync(file, { force: true });
  }
}

/** A bare JSON-RPC echo server on the same WebSocket stack: the ceiling for one connection. */
async function startEcho(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = Fastify();
  await server.register(websocket);
  server.register(async (scope) => {
    scope.get("/echo", { websocket: true }, (socket) => {
      socket.on("message", (data) => {
        const msg = JSON.parse(data.toString());
        if (msg.method === "auth.login_ex") socket.send(JSON.stringify({ jsonrpc: "2.0", id: msg.id, result: { response_type: "SUCCESS" } }));
        else socket.send(JSON.stringify({ jsonrpc: "2.0", id: msg.id, result: msg.params }));
      });
    });
  });
  await server.listen({ host: "127.0.0.1", port: 0 });
  const addr = server.server.address() as { port: number };
  return { url: `ws://127.0.0.1:${addr.port}/echo`, close: () => server.close() };
}

/** Insert `USERS` users and `GROUPS` groups directly (fast), each user with one aux group. */
export async function seedAccounts(db: Db, users = USERS, groups = GROUPS, dialect: "sqlite" | "postgres" = "sqlite"): Promise<void> {
  const now = Date.now();
  await db.transaction().execute(async (trx) => {
    const batch = 500;
    for (let i = 0; i < groups; i += batch) {
      const rows = [];
      for (let j = i; j < Math.min(groups, i + batch); j++) {
        rows.push({ gid: 100000 + j, name: `grp${String(j).padStart(6, "0")}`, builtin: 0, smb: 0, sudo_commands: "[]", sudo_commands_nopasswd: "[]", userns_idmap: null });
      }
      await trx.insertInto("groups").values(rows).execute();
    }
    const firstGroup = (await trx.selectFrom("groups").select("id").where("name", "=", "grp000000").executeTakeFirstOrThrow()).id;
    const first = ["Ada", "Grace", "Linus", "Ken", "Barbara", "Edsger", "Donald", "Radia", "Frances", "Alan"];
    const last = ["Lovelace", "Hopper", "Torvalds", "Thompson", "Liskov", "Dijkstra", "Knuth", "Perlman", "Allen", "Turing"];
    for (let i = 0; i < users; i += batch) {
      const rows = [];
      for (let j = i; j < Math.min(users, i + batch); j++) {
        rows.push({
          uid: 10000 + j, username: `user${String(j).padStart(6, "0")}`, unixhash: "*", smbhash: "*", home: "/var/empty",
          shell: "/usr/bin/bash", full_name: `${first[j % 10]} ${last[Math.floor(j / 10) % 10]} ${j}`, builtin: 0, smb: 0,
          microsoft_account: 0, userns_idmap: null, group_id: firstGroup + (j % groups), password_disabled: 1,
          ssh_password_enabled: 0, sshpubkey: null, locked: 0, sudo_commands: "[]", sudo_commands_nopasswd: "[]",
          email: `user${j}@example.test`, email_verified: 0, last_password_change: null, password_history: "[]",
          source: "LOCAL", home_mode: null, twofactor_secret: null, twofactor_digits: 6, twofactor_interval: 30,
          twofactor_email: 0, created_at: now,
        });
      }
      await trx.insertInto("users").values(rows).execute();
    }
    const firstUser = (await trx.selectFrom("users").select("id").where("username", "=", "user000000").executeTakeFirstOrThrow()).id;
    for (let i = 0; i < users; i += batch) {
      const rows = [];
      for (let j = i; j < Math.min(users, i + batch); j++) rows.push({ user_id: firstUser + j, group_id: firstGroup + ((j * 7 + 3) % groups) });
      await trx.insertInto("memberships").values(rows).execute();
    }
  });
  // A PostgreSQL store in use has planner statistics (autovacuum gathers them); a table bulk-
  // loaded a second ago has none, and the planner then walks whole indexes for a one-row lookup.
  // Gatehouse never runs ANALYZE on SQLite (whose planner picks a slower join with statistics),
  // so the embedded store is measured as it really runs: without.
  if (dialect === "postgres") await sql`analyze`.execute(db);
}

/** Time `fn` `n` times; returns per-call ms percentiles and calls/s. */
async function timeDirect(n: number, fn: (i: number) => Promise<unknown>): Promise<LoadResult> {
  const lat: number[] = [];
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn(i);
    lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  lat.sort((a, b) => a - b);
  return { callsPerSec: n / seconds, p50: lat[Math.floor(n * 0.5)]!, p99: lat[Math.min(n - 1, Math.floor(n * 0.99))]!, errors: 0 };
}

export async function runCore(store: "sqlite" | "postgres", databaseUrl?: string): Promise<Row[]> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "gatehouse-bench-"));
  const config = { ...resolveConfig({ dataDir, database: databaseUrl, port: 0, hashRounds: 1000, logLevel: "silent" }, {}), failDelay: [0, 0] as [number, number] };
  const app = await App.create(config, { log: pino({ level: "silent" }) });
  const rows: Row[] = [];
  const label = (s: string) => `${s} [${store}]`;
  try {
    const rssBefore = process.memoryUsage().rss;
    await seedAccounts(app.store.db, USERS, GROUPS, app.store.dialect);
    const server = await buildHttpServer(app);
    await server.listen({ host: "127.0.0.1", port: 0 });
    const url = `ws://127.0.0.1:${(server.server.address() as { port: number }).port}/api/current`;
    const admin = await RpcClient.connect(url);
    await admin.call("user.setup_local_administrator", "admin", ADMIN_PW);
    await admin.close();
    // The host files of the 100,000 seeded users are written now, as a running server would have
    // long done, rather than by a reconcile run in the middle of a measurement.
    await provisionerOf(app).provisionNow();
    const echo = await startEcho();

    const pick = (i: number) => (i * 7919) % USERS;
    const byName = Array.from({ length: 1000 }, (_, i) => ({ method: "user.query", params: [[["username", "=", `user${String(pick(i)).padStart(6, "0")}`]]] }));
    const byUid = Array.from({ length: 1000 }, (_, i) => ({ method: "user.query", params: [[["uid", "=", 10000 + pick(i)]]] }));

    // Every call a different username: nothing can be reused from an earlier call.
    const distinct = Array.from({ length: CALLS }, (_, i) => ({ method: "user.query", params: [[["username", "=", `user${String((i * 7919 + 13) % USERS).padStart(6, "0")}`]]] }));

    const echoRes = await load(echo.url, byName, CALLS, INFLIGHT, false);
    const coldRes = await load(url, distinct, CALLS, INFLIGHT, true, false);
    const nameRes = await load(url, byName);
    const uidRes = await load(url, byUid);
    if (nameRes.errors || uidRes.errors || coldRes.errors) throw new Error(`user.query errors: ${nameRes.errors + uidRes.errors + coldRes.errors}`);
    rows.push({ name: label("user.query by username (1,000 users cycled: answers reused while the store is unchanged)"), value: nameRes.callsPerSec, unit: "calls/s", baseline: echoRes.callsPerSec, baselineName: "JSON-RPC echo", ratio: nameRes.callsPerSec / echoRes.callsPerSec, aim: "≥ 50% of echo" });
    rows.push({ name: label("user.query by username (every call a new user)"), value: coldRes.callsPerSec, unit: "calls/s", baseline: echoRes.callsPerSec, baselineName: "JSON-RPC echo", ratio: coldRes.callsPerSec / echoRes.callsPerSec });
    rows.push({ name: label("  p50 / p99 latency, new users"), value: coldRes.p50, unit: `ms / ${coldRes.p99.toFixed(2)} ms`, baseline: echoRes.p50, baselineUnit: `ms / ${echoRes.p99.toFixed(2)} ms`, ratio: null });
    rows.push({ name: label("  p50 / p99 latency"), value: nameRes.p50, unit: `ms / ${nameRes.p99.toFixed(2)} ms`, baseline: echoRes.p50, baselineUnit: `ms / ${echoRes.p99.toFixed(2)} ms`, ratio: null });
    rows.push({ name: label("user.query by uid"), value: uidRes.callsPerSec, unit: "calls/s", baseline: echoRes.callsPerSec, baselineName: "JSON-RPC echo", ratio: uidRes.callsPerSec / echoRes.callsPerSec });
    rows.push({ name: label("  p50 / p99 latency"), value: uidRes.p50, unit: `ms / ${uidRes.p99.toFixed(2)} ms`, baseline: echoRes.p50, baselineUnit: `ms / ${echoRes.p99.toFixed(2)} ms`, ratio: null });

    // Direct SQL: the same lookup on the store, no server in between, each call a new user — beside
    // the API's lookups of new users (the repeated ones above are mostly answered from the cache).
    const db = app.store.db;
    const sqlName = await timeDirect(5000, (i) => db.selectFrom("users").selectAll().where("username", "=", `user${String((i * 7919 + 13) % USERS).padStart(6, "0")}`).execute());
    rows.push({ name: label("user.query by username, new user each call, vs direct SQL"), value: coldRes.callsPerSec, unit: "calls/s", baseline: sqlName.callsPerSec, baselineName: "SELECT by username, one at a time", ratio: coldRes.callsPerSec / sqlName.callsPerSec });

    // A (?i) regex search like the UI's quick search, limit 50, ordered. Every call searches for a
    // different text (676 two-letter prefixes, most matching nothing: a walk over every row), so
    // no result can come from the cache.
    const letters = "abcdefghijklmnopqrstuvwxyz";
    const prefixes = Array.from({ length: 676 }, (_, i) => letters[Math.floor(i / 26)]! + letters[i % 26]!);
    const regexReqs = prefixes.map((p) => ({
      method: "user.query",
      params: [[["OR", [["username", "~", `(?i)${p}`], ["full_name", "~", `(?i)${p}`]]]], { limit: 50, order_by: ["username"] }],
    }));
    const regexRes = await load(url, regexReqs, regexReqs.length, 1, true, false);
    const regexSql = await timeDirect(regexReqs.length, (i) =>
      sql`select * from users where lower(username) like ${prefixes[i]! + "%"} or lower(full_name) like ${prefixes[i]! + "%"} order by username limit 50`.execute(db),
    );
    rows.push({ name: label("(?i) regex search, limit 50, order_by, 676 different texts: p99"), value: regexRes.p99, unit: "ms", baseline: regexSql.p99, baselineName: "same SQL direct", ratio: regexSql.p99 / regexRes.p99, ratioNote: "(SQL/API)", aim: "< 100 ms p99" });

    // A count with two filters, a different name prefix each call (300 calls, none cached).
    const countPrefixes = Array.from({ length: 300 }, (_, i) => `${["Ada", "Grace", "Linus", "Ken", "Barbara", "Edsger", "Donald", "Radia", "Frances", "Alan"][i % 10]} ${["Lovelace", "Hopper", "Torvalds", "Thompson", "Liskov", "Dijkstra", "Knuth", "Perlman", "Allen", "Turing"][Math.floor(i / 10) % 10]} ${Math.floor(i / 100) + 1}`);
    const countReqs = countPrefixes.map((p) => ({ method: "user.query", params: [[["locked", "=", false], ["full_name", "^", p]], { count: true }] }));
    const countRes = await load(url, countReqs, countReqs.length, 1, true, false);
    const countSql = await timeDirect(countReqs.length, (i) => sql`select count(*) from users where locked = 0 and full_name like ${countPrefixes[i]! + "%"}`.execute(db));
    rows.push({ name: label("count with two filters (300 different prefixes): p50"), value: countRes.p50, unit: "ms", baseline: countSql.p50, baselineName: "same SQL direct", ratio: countSql.p50 / countRes.p50, ratioNote: "(SQL/API)" });

    // user.create throughput at 1,000 hash rounds (the minimum sha512crypt allows).
    const n = Number(process.env.BENCH_CREATES ?? 400);
    const creates = Array.from({ length: n }, (_, i) => ({
      method: "user.create",
      params: [{ username: `bench${store[0]}${i}`, full_name: `Bench ${i}`, password: "Bench-pass-123", group_create: true, smb: false }],
    }));
    const createRes = await load(url, creates, n, 8, true, false);
    if (createRes.errors) throw new Error(`user.create errors: ${createRes.errors}`);
    const insertSql = await timeDirect(n, async (i) => {
      await db.transaction().execute(async (trx) => {
        const g = await trx.insertInto("groups").values({ gid: 900000 + i, name: `rawg${i}`, builtin: 0, smb: 0, sudo_commands: "[]", sudo_commands_nopasswd: "[]", userns_idmap: null }).returning("id").executeTakeFirstOrThrow();
        await trx.insertInto("users").values({
          uid: 900000 + i, username: `raw${i}`, unixhash: "*", smbhash: "*", home: "/var/empty", shell: "/usr/bin/bash", full_name: "raw",
          builtin: 0, smb: 0, microsoft_account: 0, userns_idmap: null, group_id: g.id, password_disabled: 0, ssh_password_enabled: 0,
          sshpubkey: null, locked: 0, sudo_commands: "[]", sudo_commands_nopasswd: "[]", email: null, email_verified: 0,
          last_password_change: null, password_history: "[]", source: "LOCAL", home_mode: null, twofactor_secret: null,
          twofactor_digits: 6, twofactor_interval: 30, twofactor_email: 0, created_at: Date.now(),
        }).execute();
      });
    });
    rows.push({ name: label("user.create (1,000 hash rounds)"), value: createRes.callsPerSec, unit: "creates/s", baseline: insertSql.callsPerSec, baselineName: "raw INSERT group+user", ratio: createRes.callsPerSec / insertSql.callsPerSec });

    await echo.close();
    closeAllConnections(server);
    await server.close();
    await app.shutdown();
    await app.close();

    // Resident memory of a production server (compiled JS, as `npm start` runs it) on this store,
    // after it provisioned the host files and served a lookup load.
    const rss = await serverRss(dataDir, databaseUrl, byName);
    rows.push({ name: label("resident memory, gatehouse serve with users loaded"), value: rss / 1048576, unit: "MB", baseline: rssBefore / 1048576, baselineName: "this bench process before seeding", ratio: null, aim: "< 300 MB" });
  } finally {
    await app.close().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  }
  return rows;
}

async function serverRss(dataDir: string, databaseUrl: string | undefined, requests: { method: string; params: unknown[] }[]): Promise<number> {
  const bin = path.join(here, "..", "bin", "gatehouse.js");
  const args = [bin, "serve", "--data-dir", dataDir, "--port", "0", "--log-level", "warn", ...(databaseUrl ? ["--database", databaseUrl] : [])];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const line: string = await new Promise((resolve, reject) => {
      child.stdout!.once("data", (d) => resolve(d.toString()));
      child.once("exit", (code) => reject(new Error(`gatehouse serve exited with ${code}`)));
    });
    const hostPort = /http:\/\/([^/ ]+)\//.exec(line)![1]!;
    await load(`ws://${hostPort}/api/current`, requests, 5000, INFLIGHT);
    await new Promise((r) => setTimeout(r, 3000));
    const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
}
