// Integration-test harness: a real Gatehouse server on a loopback port (in this process), on
// SQLite or on the throwaway PostgreSQL that scripts/test starts (GATEHOUSE_TEST_PG), and real
// WebSocket clients. `forEachStore` runs a suite once per store.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { describe } from "node:test";
import pg from "pg";
import pino from "pino";
import { App } from "../src/app.js";
import { resolveConfig, type Config } from "../src/config.js";
import { buildHttpServer, closeAllConnections } from "../src/server/http.js";
import { RpcClient } from "../src/cli/client.js";

export type StoreKind = "sqlite" | "postgres";
export const STORES: StoreKind[] = process.env.GATEHOUSE_TEST_PG ? ["sqlite", "postgres"] : ["sqlite"];
export const ADMIN_PASSWORD = "Adm1n-pass-word";

/** Run `fn` as a describe block once per available store. */
export function forEachStore(name: string, fn: (store: StoreKind) => void): void {
  for (const store of STORES) describe(`${name} [${store}]`, () => fn(store));
}

/**
 * Every server sharing a store must hold the same secret key (files at rest): the key of the
 * first server on each PostgreSQL database, by URL, so a second server (in this process or a real
 * process) on the same database starts with a copy of it.
 */
const storeKeys = new Map<string, Buffer>();

/** Remember the key of the first server on `database` (no-op on SQLite or when already known). */
export function rememberStoreKey(database: string | undefined, dataDir: string): void {
  if (!database || storeKeys.has(database)) return;
  const file = path.join(dataDir, "private", "secret.key");
  if (existsSync(file)) storeKeys.set(database, readFileSync(file));
}

/**
 * Give a new server's data dir (one the harness made) the key of the store it joins, unless it
 * has one of its own.
 */
export function shareStoreKey(database: string | undefined, dataDir: string): void {
  const key = database ? storeKeys.get(database) : undefined;
  const file = path.join(dataDir, "private", "secret.key");
  if (!key || existsSync(file)) return;
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, key, { mode: 0o600 });
}

/** A fresh, empty PostgreSQL database on the test server; returns its URL. */
export async function freshPgDatabase(): Promise<string> {
  const base = process.env.GATEHOUSE_TEST_PG;
  if (!base) throw new Error("GATEHOUSE_TEST_PG is not set");
  const name = `gh_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * An App without an HTTP server, on a fresh data dir and SQLite — or on `database` (PostgreSQL) —
 * shut down and removed after `fn`. For unit tests of code that needs a whole application.
 */
export async function withTestApp(database: string | undefined, fn: (app: App) => Promise<void>): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "gh-app-"));
  const app = await App.create({ ...resolveConfig({ dataDir, database, port: 0, hashRounds: 1000, logLevel: "silent" }, {}), failDelay: [0, 0] }, { log: pino({ level: "silent" }) });
  try {
    await fn(app);
  } finally {
    await app.shutdown();
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export interface TestServer {
  app: App;
  config: Config;
  url: string;
  httpUrl: string;
  port: number;
  dataDir: string;
  client(): Promise<RpcClient>;
  /** A client logged in as the local administrator (set up on first use). */
  adminClient(): Promise<RpcClient>;
  stop(): Promise<void>;
}

export interface StartOptions {
  store?: StoreKind;
  /** Reuse a database URL (a second server process on the same PostgreSQL). */
  databaseUrl?: string;
  dataDir?: string;
  config?: Partial<Config>;
  /** Apply the per-IP limiter to loopback callers too (off by default: suites log in often). */
  rateLimitLoopback?: boolean;
  /** The server's logger (default: silent), e.g. to capture what it logs. */
  log?: pino.Logger;
}

export async function startServer(opts: StartOptions = {}): Promise<TestServer> {
  // Every result is checked against its method's declared schema (src/server/result-check.ts).
  process.env.GATEHOUSE_CHECK_RESULTS ??= "1";
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), "gatehouse-test-"));
  const store = opts.store ?? "sqlite";
  const database = opts.databaseUrl ?? (store === "postgres" ? await freshPgDatabase() : undefined);
  const config: Config = {
    ...resolveConfig({ dataDir, database, host: "127.0.0.1", port: 0, hashRounds: 1000, logLevel: "silent" }, {}),
    failDelay: [5, 10],
    // SCRAM records of new API keys at the lowest count clients accept (one PBKDF2 per key made).
    scramIterations: 50_000,
    ...opts.config,
  };
  if (!opts.dataDir) shareStoreKey(database, dataDir); // a caller's own data dir is used as given
  const app = await App.create(config, { log: opts.log ?? pino({ level: "silent" }) });
  rememberStoreKey(database, dataDir);
  app.rateLimitDelay = [5, 10];
  app.rateLimitLoopbackExempt = !opts.rateLimitLoopback;
  const server = await buildHttpServer(app);
  await server.listen({ host: "127.0.0.1", port: 0 });
  const addr = server.server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  const url = `ws://127.0.0.1:${port}/api/current`;
  const clients: RpcClient[] = [];
  let adminReady: Promise<void> | null = null;
  const ts: TestServer = {
    app,
    config,
    url,
    httpUrl: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    async client() {
      const c = await RpcClient.connect(url);
      clients.push(c);
      return c;
    },
    async adminClient() {
      const c = await ts.client();
      adminReady ??= setUpAdmin(c);
      await adminReady;
      return loginAdmin(c);
    },
    async stop() {
      await Promise.all(clients.map((c) => c.close().catch(() => {})));
      closeAllConnections(server);
      await server.close();
      await app.shutdown();
      await app.close();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return ts;
}

/** Set up the local administrator `admin` (ADMIN_PASSWORD) unless the server has one. */
export async function setUpAdmin(c: RpcClient): Promise<void> {
  if (!(await c.call<boolean>("user.has_local_administrator_set_up"))) {
    await c.call("user.setup_local_administrator", "admin", ADMIN_PASSWORD);
  }
}

/** Sign `c` in as the local administrator; throws when the login does not succeed. */
export async function loginAdmin(c: RpcClient): Promise<RpcClient> {
  const r = await c.login("admin", ADMIN_PASSWORD);
  if (r.response_type !== "SUCCESS") throw new Error(`admin login failed: ${JSON.stringify(r)}`);
  return c;
}

let seq = 0;
/** A unique, valid name for test objects. */
export function uniq(prefix = "u"): string {
  return `${prefix}${process.pid % 1000}x${++seq}${randomBytes(2).toString("hex")}`;
}

/**
 * A client logged in as a fresh user whose only privilege grants exactly `roles`
 * (group + privilege + user with password), like the reference's unprivileged_user_client.
 */
export async function clientWithRoles(ts: TestServer, roles: string[], opts: { password?: string } = {}): Promise<{ client: RpcClient; username: string; userId: number; gid: number }> {
  const admin = await ts.adminClient();
  const name = uniq("r");
  const password = opts.password ?? "Test-pass-1234";
  const groupId = await admin.call<number>("group.create", { name: `${name}_grp`, smb: false });
  const group = await admin.call<any>("group.get_instance", groupId);
  if (roles.length) await admin.call("privilege.create", { name: `${name}_priv`, local_groups: [group.gid], ds_groups: [], roles, web_shell: false });
  const user = await admin.call<any>("user.create", { username: name, full_name: name, password, group: groupId, smb: false });
  const client = await ts.client();
  const r = await client.login(name, password);
  if (roles.length && r.response_type !== "SUCCESS") throw new Error(`login as ${name} failed: ${JSON.stringify(r)}`);
  return { client, username: name, userId: user.id, gid: group.gid };
}

/** Assert that `p` rejects with a JSON-RPC error; returns it for further checks. */
export async function rpcError(p: Promise<unknown>): Promise<import("../src/cli/client.js").RpcCallError> {
  try {
    await p;
  } catch (err) {
    if ((err as Error).name === "RpcCallError") return err as import("../src/cli/client.js").RpcCallError;
    throw err;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

/**
 * How long another server process on the same PostgreSQL may take to hear of a commit: its NOTIFY
 * is sent at commit and arrives "well under a millisecond" later on one idle host; a call that
 * reaches that process first is concurrent with the change (docs/security/session-lifecycle.md,
 * docs/security/fleet-stale-access-after-revoke.md "Limit"). Generous for a loaded CI machine, far
 * below any periodic sweep, so a process that never hears of a change still fails.
 */
export const NOTIFY_WINDOW_MS = 250;

/**
 * `check` passes, on a process that learns of a change by PostgreSQL's notification: asked again
 * (every 5 ms) until it passes or NOTIFY_WINDOW_MS has gone by, then its last failure is thrown.
 */
export async function onceNotified<T>(check: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + NOTIFY_WINDOW_MS;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}
