// Access-control figures (issues 3, 15), each beside its baseline in the same alternating rounds:
//  - the per-call authorization check beside node-casbin on the same role graph, as casbin comes
//    and with its role links cached (the fair comparison: Gatehouse resolves a session's roles once);
//  - password logins at the default 656,000 rounds beside the host's crypt(3) (the native addon,
//    libxcrypt) verifying the same hash in as many worker processes as there are cores;
//  - API-key logins beside a JSON-RPC echo answering the same frames;
//  - what SCRAM costs: SCRAM logins (precomputed client material, so the figure is the server's
//    work and the second round trip) beside PLAIN logins on the same connections, and one key
//    record's PBKDF2 at the default 500,000 iterations beside the same at 50,000 (paid at
//    create/reset, and by a client that derives its keys from the raw key at every login);
//  - the dispatcher's overhead: authorization + audit on a method that writes an audit entry
//    (group.update) beside the same handler plus a direct audit insert, and authorization alone on
//    an unaudited, cached user.query beside the same handler.

import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { DefaultRoleManager, newCachedEnforcer, newEnforcer, newModelFromString, StringAdapter, type Enforcer } from "casbin";
import { App } from "../src/app.js";
import { resolveConfig } from "../src/config.js";
import { serveWithAdmin } from "./bench-server.js";
import { RpcClient } from "../src/cli/client.js";
import { ROLES, ALL_ROLE_NAMES } from "../src/access/roles.js";
import { accessFor, authorize } from "../src/access/authorize.js";
import { callMethod } from "../src/server/rpc.js";
import { parseArgs, type MethodDef } from "../src/api/method.js";
import type { CallContext } from "../src/api/context.js";
import { Connection } from "../src/server/connection.js";
import { redactParams, writeAudit } from "../src/audit/audit.js";
import { provisionerOf } from "../src/provision/index.js";
import { deriveScramRecord, scramClientLogin, SCRAM_DEFAULT_ITERATIONS, SCRAM_MIN_ITERATIONS } from "../src/auth/scram.js";
import { alternate, collectGarbage, figure, type BenchOptions, type Row } from "./measure.js";
import type { Section } from "./table.js";

const exec = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const ADMIN_PW = "Bench-admin-pw1";
const ADDON = path.join(here, "..", "native", "build", "Release", "gatehouse_crypt.node");

// biome-ignore lint/correctness/noUnusedVariables: written in the loop so it cannot be optimised away
let sink = 0;

const CASBIN_MODEL = `
[request_definition]
r = sub, obj
[policy_definition]
p = sub, obj
[role_definition]
g = _, _
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = g(r.sub, p.sub) && r.obj == p.obj`;

/** casbin's role manager with every answer of "does A inherit B" kept (cleared when links change). */
class CachedRoleManager extends DefaultRoleManager {
  private readonly links = new Map<string, boolean>();
  override syncedHasLink(name1: string, name2: string, ...domain: string[]): boolean {
    const key = `${name1}\0${name2}\0${domain.join("\0")}`;
    let v = this.links.get(key);
    if (v === undefined) this.links.set(key, (v = super.syncedHasLink(name1, name2, ...domain)));
    return v;
  }
  override async hasLink(name1: string, name2: string, ...domain: string[]): Promise<boolean> {
    return this.syncedHasLink(name1, name2, ...domain);
  }
  override async addLink(name1: string, name2: string, ...domain: string[]): Promise<void> {
    this.links.clear();
    return super.addLink(name1, name2, ...domain);
  }
  override async deleteLink(name1: string, name2: string, ...domain: string[]): Promise<void> {
    this.links.clear();
    return super.deleteLink(name1, name2, ...domain);
  }
  override async clear(): Promise<void> {
    this.links.clear();
    return super.clear();
  }
}

async function casbinFor(lines: string[], cachedLinks: boolean): Promise<Enforcer> {
  const enforcer = await newEnforcer(newModelFromString(CASBIN_MODEL), new StringAdapter(lines.join("\n")));
  if (cachedLinks) {
    enforcer.setRoleManager(new CachedRoleManager(10));
    await enforcer.buildRoleLinks();
  }
  return enforcer;
}

async function authorizationRows(app: App, rounds: number): Promise<Row[]> {
  const defs = app.registry.all().filter((d) => d.authenticationRequired && d.authorizationRequired);
  const roleSets = [["READONLY_ADMIN"], ["SHARING_ADMIN"], ["ACCOUNT_WRITE", "API_KEY_READ"], ["REPLICATION_ADMIN"]];
  const sessions = roleSets.map((roles) => {
    const acc = accessFor(app.registry, roles, false);
    return { ...app.auth.internalSession(), internal: false, fullAdmin: false, roles: acc.roles, allowedMethods: acc.allowedMethods };
  });
  const queries = Array.from({ length: 4096 }, (_, i) => [sessions[i % sessions.length]!, defs[(i * 31) % defs.length]!] as const);
  // casbin: the same graph. g = role inclusion and session → role; p = role → method.
  const lines: string[] = [];
  for (const name of ALL_ROLE_NAMES) for (const inc of (ROLES as Record<string, { includes: readonly string[] }>)[name]!.includes) if (inc !== name) lines.push(`g, ${name}, ${inc}`);
  for (const d of defs) for (const r of d.roles) lines.push(`p, ${r}, ${d.name}`);
  roleSets.forEach((roles, i) => roles.forEach((r) => lines.push(`g, session${i}, ${r}`)));
  const plain = await casbinFor(lines, false);
  const cached = await casbinFor(lines, true);
  // casbin's own decision cache (CachedEnforcer: async enforce() only), closest to a session
  // holding its set of allowed methods.
  const decisions = await newCachedEnforcer(newModelFromString(CASBIN_MODEL), new StringAdapter(lines.join("\n")));

  const N = 400_000; // per round; a check is ~10 ns
  const M = 4_000; // per round; casbin evaluates its matcher per policy line
  const ours = async () => {
    let allowed = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) {
      const [s, d] = queries[i & 4095]!;
      if (authorize(d, s) === "ALLOW") allowed++;
    }
    sink += allowed; // used, so the loop cannot be optimised away
    return Number(process.hrtime.bigint() - t0) / N;
  };
  const casbin = (enforce: (sub: string, obj: string) => boolean | Promise<boolean>, n: number) => async (round: number) => {
    let agree = 0;
    const t1 = process.hrtime.bigint();
    for (let k = 0; k < n; k++) {
      const i = round * n + k;
      const si = i % sessions.length;
      const d = defs[(i * 31) % defs.length]!;
      if ((await enforce(`session${si}`, d.name)) === (authorize(d, sessions[si]!) === "ALLOW")) agree++;
    }
    const ns = Number(process.hrtime.bigint() - t1) / n;
    if (agree !== n) throw new Error(`casbin and Gatehouse disagree on ${n - agree} of ${n} checks`);
    return ns;
  };
  for (let si = 0; si < sessions.length; si++) for (const d of defs) await decisions.enforce(`session${si}`, d.name); // every decision cached
  const m = await alternate(
    rounds,
    {
      ours,
      casbin: casbin((a, b) => plain.enforceSync(a, b), M),
      cached: casbin((a, b) => cached.enforceSync(a, b), M),
      decisions: casbin((a, b) => decisions.enforce(a, b), 100 * M),
    },
    collectGarbage,
  );
  const vs = { unit: "ns", value: m.ours, baselineUnit: "ns", ratio: (v: number, b: number) => b / v, ratioAsTimes: true, ratioNote: "faster (baseline ÷ value)", better: "higher" as const };
  return [
    figure({ name: "authorization check per call", ...vs, baseline: m.casbin, baselineName: "casbin enforceSync, same graph", aim: "≥ 100× faster" }),
    figure({ name: "authorization check per call, vs casbin with role links cached", ...vs, baseline: m.cached, baselineName: "casbin enforceSync, same graph, role links cached" }),
    figure({ name: "authorization check per call, vs casbin's decision cache", ...vs, baseline: m.decisions, baselineName: "casbin CachedEnforcer enforce (awaited), every decision cached" }),
  ];
}

// A worker process verifying one hash with the native addon, one call after another (one core):
// prints its start and end on the system-wide monotonic clock.
const CRYPT_WORKER = `
const [addon, pw, hash, n] = process.argv.slice(1);
const { crypt } = require(addon);
(async () => {
  await crypt(pw, hash);
  const start = process.hrtime.bigint();
  for (let i = 0; i < Number(n); i++) if ((await crypt(pw, hash)) !== hash) throw new Error("crypt mismatch");
  process.stdout.write(JSON.stringify({ start: String(start), end: String(process.hrtime.bigint()), n: Number(n) }));
})();`;

/** The host's crypt(3) (libxcrypt, through the native addon) verifying `hash` in `procs` processes. */
async function hostCryptRate(password: string, hash: string, perProc: number, procs: number): Promise<number> {
  if (!existsSync(ADDON)) throw new Error(`the native crypt addon is not built (${ADDON}): run npm install (node-gyp) first`);
  const runs = await Promise.all(
    Array.from({ length: procs }, async () => {
      const { stdout } = await exec(process.execPath, ["-e", CRYPT_WORKER, ADDON, password, hash, String(perProc)]);
      return JSON.parse(stdout) as { start: string; end: string; n: number };
    }),
  );
  const start = runs.reduce((a, r) => (BigInt(r.start) < a ? BigInt(r.start) : a), BigInt(runs[0]!.start));
  const end = runs.reduce((a, r) => (BigInt(r.end) > a ? BigInt(r.end) : a), 0n);
  return runs.reduce((a, r) => a + r.n, 0) / (Number(end - start) / 1e9);
}

async function loginRows(_app: App, url: string, admin: RpcClient, rounds: number): Promise<Row[]> {
  // Password logins at the default rounds: two connections per core logging in back to back.
  const cores = os.cpus().length;
  const conns = await Promise.all(Array.from({ length: cores * 2 }, () => RpcClient.connect(url)));
  const perConn = 3;
  const [{ unixhash }] = await admin.call<any[]>("user.query", [["username", "=", "admin"]], { select: ["unixhash"] });
  try {
    const m = await alternate(rounds, {
      logins: async () => {
        const t0 = process.hrtime.bigint();
        await Promise.all(
          conns.map(async (c) => {
            for (let i = 0; i < perConn; i++) {
              const r = await c.login("admin", ADMIN_PW);
              if (r.response_type !== "SUCCESS") throw new Error(`login failed: ${r.response_type}`);
            }
          }),
        );
        return (conns.length * perConn) / (Number(process.hrtime.bigint() - t0) / 1e9);
      },
      crypt: () => hostCryptRate(ADMIN_PW, unixhash, (conns.length * perConn) / cores, cores),
    });
    return [
      figure({
        name: "password logins at 656,000 rounds",
        unit: "logins/s",
        value: m.logins,
        baseline: m.crypt,
        baselineName: `host crypt(3): native addon (libxcrypt) in ${cores} worker processes`,
        baselineUnit: "verifies/s",
        better: "higher",
        aim: "≥ 90%",
      }),
    ];
  } finally {
    for (const c of conns) await c.close();
  }
}

async function apiKeyRows(url: string, admin: RpcClient, rounds: number): Promise<Row[]> {
  // API-key logins from a separate load process (as a real client would be), many in flight on
  // one connection: each login replaces the connection's session and answers with user_info.
  const created = await admin.call<any>("api_key.create", { name: "bench", username: "admin" });
  const { startEcho } = await import("./core.bench.js");
  const echo = await startEcho();
  const loadLogins = async (target: string) => {
    const spec = {
      url: target,
      calls: 4_000,
      inflight: 16,
      expectResponseType: "SUCCESS",
      requests: [{ method: "auth.login_ex", params: [{ mechanism: "API_KEY_PLAIN", username: "admin", api_key: created.key }] }],
    };
    const { stdout } = await exec(process.execPath, ["--import", "tsx", path.join(here, "load-client.ts"), JSON.stringify(spec)], { maxBuffer: 1 << 20 });
    const res = JSON.parse(stdout) as { callsPerSec: number; errors: number };
    if (res.errors) throw new Error(`API-key logins failed: ${res.errors}`);
    return res.callsPerSec;
  };
  try {
    const m = await alternate(rounds, { keys: () => loadLogins(url), echo: () => loadLogins(echo.url) });
    return [
      figure({
        name: "API-key logins (16 in flight, one connection)",
        unit: "logins/s",
        value: m.keys,
        baseline: m.echo,
        baselineName: "JSON-RPC echo answering the same frames",
        better: "higher",
        aim: "≥ 5,000/s",
      }),
    ];
  } finally {
    await echo.close();
  }
}

async function scramRows(url: string, admin: RpcClient, rounds: number): Promise<Row[]> {
  const created = await admin.call<any>("api_key.create", { name: "bench-scram", username: "admin" });
  const [full] = await admin.call<any[]>("api_key.query", [["id", "=", created.id]]);
  const material = { api_key_id: created.id, client_key: created.client_key, stored_key: full.stored_key, server_key: full.server_key };
  // SCRAM state is per connection: 16 connections, each logging in back to back.
  const conns = await Promise.all(Array.from({ length: 16 }, () => RpcClient.connect(url)));
  const perConn = 60;
  const rate = (login: (c: RpcClient) => Promise<void>) => async () => {
    const t0 = process.hrtime.bigint();
    await Promise.all(
      conns.map(async (c) => {
        for (let i = 0; i < perConn; i++) await login(c);
      }),
    );
    return (conns.length * perConn) / (Number(process.hrtime.bigint() - t0) / 1e9);
  };
  try {
    const m = await alternate(rounds, {
      scram: rate(async (c) => {
        await scramClientLogin((d) => c.call("auth.login_ex", d), { username: "admin", apiKey: material, channelBinding: null });
      }),
      plain: rate(async (c) => {
        const r = await c.loginApiKey(created.key, "admin");
        if (r.response_type !== "SUCCESS") throw new Error(`PLAIN login failed: ${r.response_type}`);
      }),
    });
    const deriveAt = (iterations: number) => async () => {
      const t0 = process.hrtime.bigint();
      await deriveScramRecord(created.key.split("-")[1], iterations);
      return Number(process.hrtime.bigint() - t0) / 1e6;
    };
    const derive = await alternate(rounds, { ms: deriveAt(SCRAM_DEFAULT_ITERATIONS), min: deriveAt(SCRAM_MIN_ITERATIONS) });
    return [
      figure({
        name: "API-key logins over SCRAM (precomputed client material; 16 connections)",
        unit: "logins/s",
        value: m.scram,
        baseline: m.plain,
        baselineName: "API_KEY_PLAIN logins on the same connections",
        better: "higher",
      }),
      figure({
        name: "one SCRAM key record: PBKDF2-HMAC-SHA512 at 500,000 iterations, the default (at create/reset; per login for a client given the raw key)",
        unit: "ms",
        value: derive.ms,
        baseline: derive.min,
        baselineName: "the same at 50,000 iterations (the client's minimum; what tests set)",
        baselineUnit: "ms",
        better: "lower",
      }),
    ];
  } finally {
    for (const c of conns) await c.close();
  }
}

/**
 * A connection whose session holds `roles`, as a WebSocket login leaves it: stored (attached, not
 * ephemeral), so the dispatcher's session checks (expiry, revalidation after a change) run as for
 * a real client.
 */
async function benchConnection(app: App, roles: string[]): Promise<Connection> {
  const conn = new Connection(
    "bench",
    "127.0.0.1:1",
    "127.0.0.1",
    false,
    "WEBSOCKET",
    () => {},
    () => {},
  );
  const acc = accessFor(app.registry, roles, false);
  const session = { ...app.auth.internalSession(), internal: false, ephemeral: false, fullAdmin: false, roles: acc.roles, allowedMethods: acc.allowedMethods, expiresAt: Date.now() + 3600e3 };
  await app.auth.attach(conn, session);
  return conn;
}

/**
 * Median µs per call of `a` and of `b` over `n` calls each, timed one by one and interleaved (a b,
 * b a, …): both meet the same store, WAL and heap at the same moments. A write call's mean is
 * ruled by a few 1–8 ms calls (a WAL checkpoint, a GC) that land on either side: the mean's
 * overhead moved from −19% to +79% between rounds of the same code, the per-call median held.
 */
async function interleavedMedians(a: () => Promise<unknown>, b: () => Promise<unknown>, n: number): Promise<{ a: number; b: number }> {
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < n; i++) {
    for (const first of i % 2 === 0 ? [true, false] : [false, true]) {
      const t = process.hrtime.bigint();
      await (first ? a() : b());
      (first ? ta : tb).push(Number(process.hrtime.bigint() - t) / 1000);
    }
  }
  const median = (xs: number[]) => xs.sort((x, y) => x - y)[xs.length >> 1]!;
  return { a: median(ta), b: median(tb) };
}

/** Mean µs per call of `fn` over `n` calls (after a GC, so earlier garbage is not collected here). */
async function timeCalls(fn: () => Promise<unknown>, n: number): Promise<number> {
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  return Number(process.hrtime.bigint() - t) / n / 1000;
}

async function overheadRows(app: App, admin: RpcClient, rounds: number): Promise<Row[]> {
  const overhead = { ratio: (v: number, b: number) => v / b - 1, ratioNote: "overhead (value ÷ baseline − 1)", better: "lower" as const, unit: "µs/call", baselineUnit: "µs/call" };
  const idle = async () => {
    collectGarbage();
    await provisionerOf(app).whenIdle(); // a host-file run a write scheduled ends before the next block
  };

  // A method that writes an audit entry: group.update, an unchanged field (the whole update runs:
  // read, checks, write transaction, change announced), through the dispatcher (authorization,
  // validation, audit entry) beside the same handler called directly plus a direct audit insert.
  const gid = await admin.call<number>("group.create", { name: "benchaudit" });
  const upd = app.registry.get("group.update")! as MethodDef;
  const conn = await benchConnection(app, ["ACCOUNT_WRITE"]);
  const session = conn.session!;
  const updParams = [gid, { sudo_commands: [] }];
  const updFull = () => callMethod(app, conn, "group.update", updParams, 1);
  const updBare = async () => {
    const args = parseArgs(upd, updParams);
    const ctx: CallContext = { app, conn, session, callId: 1 };
    await upd.handler(ctx, ...args);
    // The label gets what the handler read (AuditFacts), as the dispatcher passes it.
    const description = typeof upd.audit === "function" ? upd.audit(...args, { subject: ctx.auditSubject }) : String(upd.audit);
    await writeAudit(app, { event: "METHOD_CALL", eventData: { method: upd.name, params: redactParams(updParams), description, authenticated: true, authorized: true }, success: true, conn, session });
  };
  // Warmed until both sides run optimised code: with 200 calls the first round's per-call medians
  // were still 152 and 133 µs (14% apart) against 97 and 91 µs (6–7%) in the rounds after it.
  for (let i = 0; i < 2000; i++) await updBare(), await updFull();
  const U = 400; // per round; a write is ~0.1–1 ms
  const mu = { full: [] as number[], bare: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    await idle();
    const m = await interleavedMedians(updFull, updBare, U);
    mu.full.push(m.a);
    mu.bare.push(m.b);
  }

  // Authorization alone: user.query (unaudited) answered from the cache, through the dispatcher
  // beside the same handler called directly (a 2 µs call: many calls per round, so one GC pause
  // does not move the ratio).
  const q = app.registry.get("user.query")! as MethodDef;
  const qConn = await benchConnection(app, ["READONLY_ADMIN"]);
  const qParams = [[["username", "=", "admin"]]];
  const qBare = async () => q.handler({ app, conn: qConn, session: qConn.session!, callId: 1 }, ...parseArgs(q, qParams));
  const qFull = () => callMethod(app, qConn, "user.query", qParams, 1);
  for (let i = 0; i < 2000; i++) await qBare(), await qFull();
  const Q = 40_000; // per round
  const mq = await alternate(rounds, { full: () => timeCalls(qFull, Q), bare: () => timeCalls(qBare, Q) }, idle);
  return [
    figure({
      name: "group.update (writes an audit entry) through authorization + validation + audit: median call, timed one by one, interleaved with the baseline's",
      value: mu.full,
      baseline: mu.bare,
      baselineName: "same handler called directly + direct audit insert, median call",
      ...overhead,
      aim: "≤ 10% overhead",
    }),
    // No aim of its own: issue 15 moved the ≤ 10% aim (issue 3's, first measured here) to the audited
    // method above. This row stays to show what authorization alone adds to a ~2 µs cached answer.
    figure({
      name: "user.query (unaudited, cached) through authorization alone (the ≤ 10% aim is the audited row's, issue 15)",
      value: mq.full,
      baseline: mq.bare,
      baselineName: "same handler called directly",
      ...overhead,
    }),
  ];
}

export async function run(opts: BenchOptions): Promise<Section[]> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "gatehouse-bench-auth-"));
  const config = { ...resolveConfig({ dataDir, port: 0, logLevel: "silent" }, {}), failDelay: [0, 0] as [number, number], hashRounds: null };
  const app = await App.create(config, { log: pino({ level: "silent" }) });
  app.rateLimitLoopbackExempt = true;
  const rows: Row[] = [];
  try {
    rows.push(...(await authorizationRows(app, opts.rounds)));
    const { url, admin, close } = await serveWithAdmin(app, ADMIN_PW);
    rows.push(...(await loginRows(app, url, admin, opts.rounds)));
    rows.push(...(await apiKeyRows(url, admin, opts.rounds)));
    rows.push(...(await scramRows(url, admin, opts.rounds)));
    rows.push(...(await overheadRows(app, admin, opts.rounds)));
    await close();
  } finally {
    await app.shutdown();
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return [{ title: "Access control (issues 3, 15)", rows }];
}
