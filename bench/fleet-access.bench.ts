// Fleet access figures (issue 11 acceptance, the access rows), each beside a same-run baseline in
// alternating rounds: with the store's users (default 100,000), 10,000 systems, 2,000 system
// groups (5 systems each) and 1,000 teams, each user in 3 teams and grants at all four levels
// (every team: 3 systems and 1 group; every tenth user: a system and a group of their own):
// - fleet.system.query as a fleet user (p50 and p99 per round), beside core.ping on the same connection;
// - fleet.access.explain (p99), beside core.ping;
// - fleet.access.matrix over 1,000 users × 10,000 systems streamed to /dev/null (pairs/s, the
//   median of 10 exports a round), beside writing the same number of pre-formatted CSV lines to
//   /dev/null; once as the earlier figures left the fleet index (src/fleet/access-index.ts), once
//   right after a change that leaves systems and team grants as they were (a statement on a
//   watched table: the index read again inside each timed export), and once right after one
//   team's grant changed (the index read again, and that team's text pieces built anew).
// The managed systems are rows only (nothing is contacted: the status poller is held off).

import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { once } from "node:events";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { sql } from "kysely";
import { App } from "../src/app.js";
import { resolveConfig } from "../src/config.js";
import { serveWithAdmin } from "./bench-server.js";
import { RpcClient } from "../src/cli/client.js";
import type { Db, Store } from "../src/store/db.js";
import { writeAccessMatrix } from "../src/fleet/matrix.js";
import { provisionerOf } from "../src/provision/index.js";
import { seedAccounts } from "./core.bench.js";
import { alternate, figure, type BenchOptions, type Row } from "./measure.js";
import type { Section } from "./table.js";

const SYSTEMS = 10_000;
const GROUPS = 2_000;
const TEAMS = 1_000;
const MATRIX_USERS = 1_000;
const ADMIN_PW = "Bench-admin-pass-1";
const USER_PW = "Bench-fleet-pass-1";
const CALLS = 2_000;

async function chunked<T>(rows: T[], insert: (part: T[]) => Promise<unknown>, size = 500): Promise<void> {
  for (let i = 0; i < rows.length; i += size) await insert(rows.slice(i, i + size));
}

/** Systems, groups, teams, memberships and grants at all four levels; returns the first user id. */
export async function seedFleet(db: Db, users: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const systems = Array.from({ length: SYSTEMS }, (_, i) => ({ name: `sys${String(i).padStart(5, "0")}`, url: "ws://127.0.0.1:1/api/current", api_key: "unused", verify_ssl: 1 }));
    await chunked(systems, (p) =>
      trx
        .insertInto("fleet_systems")
        .values(p as never)
        .execute(),
    );
    const s0 = (await trx.selectFrom("fleet_systems").select("id").orderBy("id").limit(1).executeTakeFirstOrThrow()).id;
    await chunked(
      Array.from({ length: GROUPS }, (_, i) => ({ name: `sg${i}` })),
      (p) => trx.insertInto("fleet_system_groups").values(p).execute(),
    );
    const g0 = (await trx.selectFrom("fleet_system_groups").select("id").orderBy("id").limit(1).executeTakeFirstOrThrow()).id;
    const members = [];
    for (let g = 0; g < GROUPS; g++) for (let k = 0; k < 5; k++) members.push({ system_group_id: g0 + g, system_id: s0 + ((g * 5 + k) % SYSTEMS) });
    await chunked(members, (p) => trx.insertInto("fleet_system_group_members").values(p).execute());
    await chunked(
      Array.from({ length: TEAMS }, (_, i) => ({ name: `team${i}` })),
      (p) => trx.insertInto("teams").values(p).execute(),
    );
    const t0 = (await trx.selectFrom("teams").select("id").orderBy("id").limit(1).executeTakeFirstOrThrow()).id;
    const u0 = (await trx.selectFrom("users").select("id").where("username", "=", "user000000").executeTakeFirstOrThrow()).id;
    const tm = [];
    for (let u = 0; u < users; u++) for (const k of [0, 331, 667]) tm.push({ team_id: t0 + ((u + k) % TEAMS), user_id: u0 + u });
    await chunked(tm, (p) => trx.insertInto("team_members").values(p).execute());
    const grants = [];
    for (let t = 0; t < TEAMS; t++) {
      for (let k = 0; k < 3; k++) grants.push({ owner_kind: "TEAM", owner_id: t0 + t, target_kind: "SYSTEM", target_id: s0 + ((t * 7 + k * 101) % SYSTEMS), access: k === 0 ? "READ_WRITE" : "READ" });
      grants.push({ owner_kind: "TEAM", owner_id: t0 + t, target_kind: "SYSTEM_GROUP", target_id: g0 + (t % GROUPS), access: "READ" });
    }
    for (let u = 0; u < users; u += 10) {
      grants.push({ owner_kind: "USER", owner_id: u0 + u, target_kind: "SYSTEM", target_id: s0 + ((u * 13) % SYSTEMS), access: "READ" });
      grants.push({ owner_kind: "USER", owner_id: u0 + u, target_kind: "SYSTEM_GROUP", target_id: g0 + ((u * 3) % GROUPS), access: "READ_WRITE" });
    }
    await chunked(grants, (p) => trx.insertInto("fleet_access").values(p).execute());
  });
}

/** Per-call milliseconds of `n` sequential calls. */
async function latencies(n: number, call: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await call(i);
    out.push(performance.now() - t);
  }
  return out.sort((a, b) => a - b);
}
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

/**
 * Exports (and baseline writes) timed per round: one export of 1,000 users takes tens of ms, so a
 * single one per round was as much the machine's noise (a GC, another process's slice) as the
 * code. Each round times MATRIX_REPS of each in a row and keeps their median (figure, baseline and
 * the after-a-change row alike; no collection forced between them: an export's own garbage is
 * collected in the later ones as it would be).
 */
const MATRIX_REPS = 10;

async function medianOf(reps: number, once: () => Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < reps; i++) xs.push(await once());
  return xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

async function matrixRows(store: Store, rounds: number): Promise<Row[]> {
  const db = store.db;
  const users = (await db.selectFrom("users").select("id").orderBy("id").limit(MATRIX_USERS).execute()).map((r) => r.id);
  // A team grant whose access each export of the grant-change row flips (READ ↔ READ_WRITE).
  const grant = (await db.selectFrom("fleet_access").select("id").where("owner_kind", "=", "TEAM").orderBy("id").limit(1).executeTakeFirstOrThrow()).id;
  let pairs = 0;
  const matrix = async () => {
    const out = createWriteStream("/dev/null");
    const t = performance.now();
    pairs = await writeAccessMatrix(store, out, { format: "CSV", users });
    out.end();
    await once(out, "close");
    return pairs / ((performance.now() - t) / 1000);
  };
  const lines = async () => {
    const out = createWriteStream("/dev/null");
    const n = Math.max(pairs, 1);
    const t = performance.now();
    let buf = "";
    for (let i = 0; i < n; i++) {
      buf += `user${i % 1000},${i % 1000},sys${i % SYSTEMS},${i % SYSTEMS},READ,TEAM_SYSTEM,${i}\n`;
      if (buf.length > 65536) {
        if (!out.write(buf)) await once(out, "drain");
        buf = "";
      }
    }
    out.end(buf);
    await once(out, "close");
    return n / ((performance.now() - t) / 1000);
  };
  const m = await alternate(rounds, {
    // The fleet index as the earlier figures left it (no change since).
    matrix: () => medianOf(MATRIX_REPS, matrix),
    // Right after a change (a statement on a watched table moves the store's stamp): the index
    // of systems, groups and teams' grants is read again within each timed export.
    afterChange: () =>
      medianOf(MATRIX_REPS, async () => {
        await sql`update "fleet_systems" set "updated_at" = "updated_at" where "id" = -1`.execute(db);
        return matrix();
      }),
    // Right after a team's grant changed: read again, and that team's pieces built anew.
    afterGrant: () =>
      medianOf(MATRIX_REPS, async () => {
        await sql`update "fleet_access" set "access" = case when "access" = 'READ' then 'READ_WRITE' else 'READ' end where "id" = ${grant}`.execute(db);
        return matrix();
      }),
    lines: () => medianOf(MATRIX_REPS, lines),
  });
  const name = `fleet.access.matrix, ${MATRIX_USERS.toLocaleString("en-US")} users × ${SYSTEMS.toLocaleString("en-US")} systems (${pairs.toLocaleString("en-US")} pairs) to /dev/null, median of ${MATRIX_REPS} exports a round`;
  const common = {
    unit: "pairs/s",
    baseline: m.lines,
    baselineName: "the same number of pre-formatted CSV lines written to /dev/null",
    baselineUnit: "lines/s",
    better: "higher" as const,
    aim: "≥ 1,000,000 pairs/s",
  };
  return [
    figure({ name, value: m.matrix, ...common }),
    figure({ name: `${name}, right after a change that leaves systems and team grants as they were (fleet index read in the export)`, value: m.afterChange, ...common }),
    figure({ name: `${name}, right after one team's grant changed (fleet index read in the export, that team's text pieces built anew)`, value: m.afterGrant, ...common }),
  ];
}

export async function run(opts: BenchOptions): Promise<Section[]> {
  // Nothing is contacted: the systems are rows pointing at a closed port.
  process.env.GATEHOUSE_FLEET_POLL_MS ??= String(24 * 3600_000);
  // No periodic full provisioning run in the measured app (as the provision bench): the seeded
  // users' host files are written once below, before anything is measured.
  process.env.GATEHOUSE_PROVISION_INTERVAL_MS ??= "0";
  const users = opts.users;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "gatehouse-bench-fleet-"));
  const config = { ...resolveConfig({ dataDir, port: 0, hashRounds: 1000, logLevel: "silent" }, {}), failDelay: [0, 0] as [number, number] };
  const app = await App.create(config, { log: pino({ level: "silent" }) });
  // The documented test-only limiter exemption (README): the load clients sign in from loopback.
  app.rateLimitLoopbackExempt = true;
  const rows: Row[] = [];
  try {
    await seedAccounts(app.store.db, users, Math.max(1, Math.round(users / 5)), app.store.dialect);
    await seedFleet(app.store.db, users);
    const { url, admin, close } = await serveWithAdmin(app, ADMIN_PW);
    // A fleet user like the seeded ones: three teams, a system and a group of its own.
    const teams = (await app.store.db.selectFrom("teams").select("id").orderBy("id").limit(3).execute()).map((t) => t.id);
    const [s1] = await app.store.db.selectFrom("fleet_systems").select("id").orderBy("id").offset(4321).limit(1).execute();
    const [g1] = await app.store.db.selectFrom("fleet_system_groups").select("id").orderBy("id").offset(77).limit(1).execute();
    const me = await admin.call<{ id: number }>("user.create", {
      username: "fleetbench",
      full_name: "Fleet Bench",
      password: USER_PW,
      group_create: true,
      teams,
      systems: [{ system: s1!.id, access: "READ" }],
      system_groups: [{ system_group: g1!.id, access: "READ_WRITE" }],
    });
    const c = await RpcClient.connect(url);
    await c.login("fleetbench", USER_PW);
    const visible = (await c.call<{ id: number }[]>("fleet.system.query")).map((x) => x.id);
    // The host files of the seeded users (and the reconciling run the user.create above set due a
    // few seconds later: a store read and diff of every row) are written now, as a running server
    // would have long done, not in the middle of the figures (it put 50 ms into a round's p99).
    await provisionerOf(app).provisionNow();
    const someUsers = (await app.store.db.selectFrom("users").select("id").orderBy("id").limit(5000).execute()).map((r) => r.id);
    const someSystems = (await app.store.db.selectFrom("fleet_systems").select("id").orderBy("id").execute()).map((r) => r.id);
    const m = await alternate(opts.rounds, {
      query: () => latencies(CALLS / 4, () => c.call("fleet.system.query")),
      explain: () => latencies(CALLS, (i) => c.call("fleet.access.explain", me.id, visible[i % visible.length])),
      explainAdmin: () => latencies(CALLS, (i) => admin.call("fleet.access.explain", someUsers[(i * 7) % someUsers.length], someSystems[(i * 13) % someSystems.length])),
      ping: () => latencies(CALLS, () => c.call("core.ping")),
    });
    const p = (k: keyof typeof m, q: number) => m[k].map((s) => pct(s, q));
    const vsPing = { baseline: p("ping", 0.99), baselineName: "core.ping on the same connection, p99", baselineUnit: "ms", ratioAsTimes: true, better: "lower" as const };
    rows.push(
      figure({
        name: `fleet.system.query as a fleet user (${visible.length} visible systems), p50`,
        unit: "ms",
        value: p("query", 0.5),
        ...vsPing,
        baseline: p("ping", 0.5),
        baselineName: "core.ping on the same connection, p50",
      }),
      figure({ name: `fleet.system.query as a fleet user (${visible.length} visible systems), p99`, unit: "ms", value: p("query", 0.99), ...vsPing, aim: "≤ 5 ms" }),
      figure({ name: "fleet.access.explain, a fleet user about itself, p99", unit: "ms", value: p("explain", 0.99), ...vsPing, aim: "≤ 2 ms" }),
      figure({ name: "fleet.access.explain, FLEET_READ about any user × system, p99", unit: "ms", value: p("explainAdmin", 0.99), ...vsPing, aim: "≤ 2 ms" }),
    );
    rows.push(...(await matrixRows(app.store, opts.rounds)));
    await c.close();
    await close();
    await app.shutdown();
  } finally {
    await app.close().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  }
  return [
    {
      title: `Fleet access [sqlite], ${users.toLocaleString("en-US")} users, ${SYSTEMS.toLocaleString("en-US")} systems, ${GROUPS.toLocaleString("en-US")} system groups, ${TEAMS.toLocaleString("en-US")} teams (issue 11)`,
      rows,
    },
  ];
}
