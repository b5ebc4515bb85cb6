// Fleet proxy (issue 11): fleet.call of user.query through the manager beside, in the same rounds,
// the same call made directly to the system and through a bare WebSocket relay written here
// (parse, forward, no checks, one pre-authenticated upstream connection per client) — p50 with one
// call in flight, and throughput with 16 in flight; and a status round of 1,000 registered
// systems over established connections (pointing at three real Gatehouse processes).
// Load comes from a separate process (bench/load-client.ts); the managed systems are real
// processes (test/process-harness.ts); the manager runs here.

import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { WebSocketServer } from "ws";
import { ADMIN_PASSWORD, startServer } from "../test/harness.js";
import { startServerProcess, type ServerProcess } from "../test/process-harness.js";
import { fleetRuntime } from "../src/fleet/runtime.js";
import { MAX_BACKGROUND_OPENS } from "../src/fleet/connection-pool.js";
import { POLL_CONCURRENCY } from "../src/fleet/poller.js";
import { API_KEY_PURPOSE, allSystemRows } from "../src/fleet/system-endpoint.js";
import { signedInUpstream, startCheckedRelay } from "./checked-relay.js";
import { alternate, figure, type BenchOptions, type FigureSpec, type Row } from "./measure.js";
import { loadFromProcess, type LoadResult, type Req } from "./load.js";
import type { Section } from "./table.js";

const _execP = promisify(execFile);
const _here = path.dirname(fileURLToPath(import.meta.url));
const INFLIGHT = 16;
const STATUS_SYSTEMS = 1000;

const load = (url: string, requests: Req[], calls: number, inflight: number, login: boolean): Promise<LoadResult> =>
  loadFromProcess(url, requests, calls, inflight, login ? { username: "admin", password: ADMIN_PASSWORD } : undefined);

/**
 * `load`, with the CPU this process spent per measured call (µs, user + system): the manager and
 * the relay both run here, so it is what forwarding one call costs each of them. This process's
 * CPU time is sampled every few ms and read at the load client's own start and end of the
 * measured calls (its sign-in and warm-up calls left out), by linear interpolation.
 */
async function loadWithCpu(url: string, requests: Req[], calls: number, inflight: number, login: boolean): Promise<LoadResult & { cpuPerCall: number }> {
  const samples: { at: bigint; cpu: number }[] = [];
  const sample = () => {
    const u = process.cpuUsage();
    samples.push({ at: process.hrtime.bigint(), cpu: u.user + u.system });
  };
  sample();
  const timer = setInterval(sample, 2);
  try {
    const result = await load(url, requests, calls, inflight, login);
    sample();
    if (!result.measuredFrom || !result.measuredTo) throw new Error("the load client did not say when its measured calls ran");
    const cpu = cpuAt(samples, BigInt(result.measuredTo)) - cpuAt(samples, BigInt(result.measuredFrom));
    return { ...result, cpuPerCall: cpu / calls };
  } finally {
    clearInterval(timer);
  }
}

/** This process's CPU time (µs) at `at`, between the two samples around it. */
function cpuAt(samples: { at: bigint; cpu: number }[], at: bigint): number {
  const i = samples.findIndex((s) => s.at >= at);
  if (i <= 0) return samples[Math.max(0, i)]!.cpu;
  const a = samples[i - 1]!;
  const b = samples[i]!;
  return a.cpu + ((b.cpu - a.cpu) * Number(at - a.at)) / Number(b.at - a.at || 1n);
}

/** The bare relay: each client connection gets one upstream connection, logged in with the key once. */
async function startRelay(upstreamUrl: string, apiKey: string): Promise<{ url: string; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  wss.on("connection", (client) => {
    const up = signedInUpstream(upstreamUrl, apiKey, (msg) => client.send(JSON.stringify(msg)));
    client.on("message", (data) => up.send(JSON.stringify(JSON.parse(data.toString()))));
    client.on("close", () => up.ws.close());
    up.ws.on("close", () => client.close());
  });
  await new Promise<void>((r) => wss.once("listening", () => r()));
  const addr = wss.address() as { port: number };
  return { url: `ws://127.0.0.1:${addr.port}/api/current`, close: () => new Promise((r) => wss.close(() => r())) };
}

export async function run(opts: BenchOptions): Promise<Section[]> {
  process.env.GATEHOUSE_CHECK_RESULTS ??= "0";
  const procs: ServerProcess[] = [];
  const manager = await startServer({ config: { logLevel: "silent" } });
  try {
    for (let i = 0; i < 3; i++) procs.push(await startServerProcess({ env: { GATEHOUSE_CHECK_RESULTS: "0" } }));
    const keys: string[] = [];
    for (const p of procs) keys.push((await (await p.adminClient()).call("api_key.create", { name: "bench", username: "admin" })).key);
    const admin = await manager.adminClient();
    const sys = await admin.call("fleet.system.create", { name: "bench-nas", url: procs[0]!.url, api_key: keys[0] });
    const relay = await startRelay(procs[0]!.url, keys[0]!);
    const checked = await startCheckedRelay(manager.app, procs[0]!.url, keys[0]!, sys.id, "admin");
    const unfolded = await startCheckedRelay(manager.app, procs[0]!.url, keys[0]!, sys.id, "admin", { fold: false });
    const query: Req = { method: "user.query", params: [[["username", "=", "admin"]], { select: ["id", "username", "uid"] }] };
    const viaProxy: Req = { method: "fleet.call", params: [sys.id, query.method, query.params] };
    // Throughput rounds take the bench's calls per round (--calls); latency rounds 1,000 calls each.
    const calls = opts.calls;
    const latencyCalls = Math.min(opts.calls, 1000);
    const latency = await alternate(opts.rounds, {
      proxy: () => load(manager.url, [viaProxy], latencyCalls, 1, true),
      relay: () => load(relay.url, [query], latencyCalls, 1, false),
      direct: () => load(procs[0]!.url, [query], latencyCalls, 1, true),
      checked: () => load(checked.url, [viaProxy], latencyCalls, 1, false),
    });
    const throughput = await alternate(opts.rounds, {
      proxy: () => loadWithCpu(manager.url, [viaProxy], calls, INFLIGHT, true),
      relay: () => loadWithCpu(relay.url, [query], calls, INFLIGHT, false),
      checked: () => loadWithCpu(checked.url, [viaProxy], calls, INFLIGHT, false),
      unfolded: () => loadWithCpu(unfolded.url, [viaProxy], calls, INFLIGHT, false),
    });
    await relay.close();
    await checked.close();
    await unfolded.close();
    // The status round never ends the run: a failure is reported beside the proxy's rows.
    const status = await statusRound(manager, procs, keys, opts.rounds).catch(
      (err: Error): StatusFigures => ({ seconds: [], warmupDown: null, downPerRound: [], warmupPasses: 0, note: `status round failed: ${err.message}` }),
    );
    const [p50, tput, cpu] = besideRelay(latency, throughput, "proxy", {
      p50: "fleet.call user.query p50, 1 in flight",
      throughput: `fleet.call user.query throughput, ${INFLIGHT} in flight`,
      cpu: `CPU per forwarded call, ${INFLIGHT} in flight (this process: the manager, or the relay)`,
      aims: { p50: "≤ 1.2× the relay", throughput: "≥ 80% of the relay" },
    });
    const checkedName =
      "checked relay (the least the guarantees take: stamp read, access and method-kind lookups, entry journaled before forwarding, outcome folded into the audit table; no dispatcher)";
    const unfoldedName = "checked relay without the audit table's writes (entries journaled, never folded into the table: a way no proxy may run, to size what those writes take)";
    const rows: Row[] = [
      p50!,
      figure({
        name: "fleet.call user.query p50 added over direct",
        unit: "ms",
        value: latency.proxy.map((r, i) => r.p50 - latency.direct[i]!.p50),
        baseline: latency.direct.map((r) => r.p50),
        baselineName: "direct p50",
        baselineUnit: "ms",
        ratioNote: "added ÷ direct",
        better: "lower",
      }),
      tput!,
      cpu!,
      ...besideRelay(latency, throughput, "checked", {
        p50: `${checkedName}: p50, 1 in flight`,
        throughput: `${checkedName}: throughput, ${INFLIGHT} in flight`,
        cpu: `${checkedName}: CPU per forwarded call, ${INFLIGHT} in flight`,
      }),
      ...besideRelay(latency, throughput, "unfolded", {
        throughput: `${unfoldedName}: throughput, ${INFLIGHT} in flight`,
        cpu: `${unfoldedName}: CPU per forwarded call, ${INFLIGHT} in flight`,
      }),
    ];
    if (status.seconds.length) {
      rows.push(
        figure({ name: `status round of ${STATUS_SYSTEMS.toLocaleString("en-US")} systems (established connections)`, unit: "s", value: status.seconds, better: "lower", aim: "≤ 2 s" }),
        figure({ name: "status round: systems found unreachable in a timed round", unit: "systems", value: status.downPerRound, better: "lower", aim: "0" }),
      );
    }
    if (status.warmupDown !== null)
      rows.push(
        figure({ name: `status round: systems still unreachable after the opening rounds (${status.warmupPasses} passes)`, unit: "systems", value: [status.warmupDown], better: "lower", aim: "0" }),
      );
    return [
      {
        title: "Fleet proxy (issue 11)",
        rows,
        notes: [
          "Proxy = fleet.call through the manager (access checked on every call: computed from the store, reused while the store's change stamp stands still; method kind from the system's cached core.get_methods; audited: every call's entry durable before it is sent — the entries of a turn appended to the call journal in one write — and folded with its outcome into the audit table every few ms in one transaction, the outcome recorded after the answer is passed on; the answer passed on as the system's wire text); relay = a bare WebSocket relay (parse, forward, no checks); direct = the same call to the system.",
          `Status round: ${STATUS_SYSTEMS} registered systems pointing at 3 real Gatehouse processes, one pooled connection each, after opening rounds made them (the poller's own rules: ${POLL_CONCURRENCY} probes at once, at most ${MAX_BACKGROUND_OPENS} connections opening at once, a system that failed retried after the pool's back-off, up to ${WARMUP_PASSES} passes); systems still down are counted, not fatal.`,
          ...(status.note ? [status.note] : []),
        ],
      },
    ];
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await manager.stop();
  }
}

type Latency = Record<"proxy" | "relay" | "direct" | "checked", LoadResult[]>;
type Throughput = Record<"proxy" | "relay" | "checked" | "unfolded", (LoadResult & { cpuPerCall: number })[]>;

/**
 * p50 (1 in flight; only for a way measured there, i.e. with a `p50` name), throughput and CPU per
 * call (16 in flight) of one way of forwarding, each beside the bare relay's.
 */
function besideRelay(
  latency: Latency,
  throughput: Throughput,
  way: "proxy" | "checked" | "unfolded",
  names: { p50?: string; throughput: string; cpu: string; aims?: { p50: string; throughput: string } },
): Row[] {
  // One figure: `of` picks the same measure from this way's runs and from the bare relay's.
  const row = (name: string, unit: string, of: (w: typeof way | "relay") => number[], baselineName: string, more: Pick<FigureSpec, "ratioAsTimes" | "better" | "aim">) =>
    figure({ name, unit, value: of(way), baseline: of("relay"), baselineName, baselineUnit: unit, ...more });
  const p50 = names.p50 ? [row(names.p50, "ms", (w) => latency[w as keyof Latency].map((r) => r.p50), "bare relay p50", { ratioAsTimes: true, better: "lower", aim: names.aims?.p50 })] : [];
  return [
    ...p50,
    row(names.throughput, "calls/s", (w) => throughput[w].map((r) => r.callsPerSec), "bare relay", { better: "higher", aim: names.aims?.throughput }),
    row(names.cpu, "µs", (w) => throughput[w].map((r) => r.cpuPerCall), "bare relay", { ratioAsTimes: true, better: "lower" }),
  ];
}

interface StatusFigures {
  /** Seconds per timed round. */
  seconds: number[];
  /** Systems the timed rounds found unreachable, per round. */
  downPerRound: number[];
  /** Systems still unreachable once the opening passes ended (null: not registered). */
  warmupDown: number | null;
  warmupPasses: number;
  note?: string;
}

/** Opening passes at most: a pass retries the systems the last one found down. */
const WARMUP_PASSES = 6;

/**
 * Register STATUS_SYSTEMS systems round-robin on the three processes, open their connections with
 * the poller's own rounds (retrying the ones that failed once the pool's back-off lets them, as
 * the poller's next rounds would), then time rounds. Failures are counted, never thrown.
 */
async function statusRound(manager: Awaited<ReturnType<typeof startServer>>, procs: ServerProcess[], keys: string[], rounds: number): Promise<StatusFigures> {
  const app = manager.app;
  const now = Date.now();
  const values = Array.from({ length: STATUS_SYSTEMS }, (_, i) => ({
    name: `bench-status-${i}`,
    url: procs[i % procs.length]!.url,
    api_key: app.secretBox.seal(API_KEY_PURPOSE, keys[i % keys.length]!),
    verify_ssl: 1,
    username: "",
    created_at: now,
    updated_at: now,
  }));
  for (let i = 0; i < values.length; i += 200)
    await app.store.db
      .insertInto("fleet_systems")
      .values(values.slice(i, i + 200))
      .execute();
  const rows = (await allSystemRows(app.store.db)).filter((r) => r.name.startsWith("bench-status-"));
  const poller = fleetRuntime(app).poller;
  let pending = rows;
  let passes = 0;
  let lastError: string | null = null;
  while (pending.length && passes < WARMUP_PASSES) {
    // After the first pass, wait out the pool's back-off of the systems that failed (250 ms doubling).
    if (passes > 0) await new Promise((r) => setTimeout(r, 300 * 2 ** (passes - 1)));
    const result = await poller.round(pending);
    passes++;
    const down = pending.filter((_, i) => !result[i]?.reachable);
    lastError = result.find((x) => x && !x.reachable)?.error ?? lastError;
    if (down.length) console.error(`fleet-proxy: status opening pass ${passes}: ${down.length} of ${pending.length} systems unreachable (${lastError})`);
    pending = down;
  }
  const seconds: number[] = [];
  const downPerRound: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const result = await poller.round(rows);
    seconds.push((performance.now() - t0) / 1000);
    downPerRound.push(result.filter((x) => !x?.reachable).length);
  }
  const note = pending.length ? `status round: ${pending.length} of ${rows.length} systems still unreachable after ${passes} opening passes (last error: ${lastError})` : undefined;
  return { seconds, downPerRound, warmupDown: pending.length, warmupPasses: passes, note };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { DEFAULT_OPTIONS } = await import("./measure.js");
  const { printTable } = await import("./table.js");
  for (const s of await run({ ...DEFAULT_OPTIONS, rounds: Number(process.env.ROUNDS ?? 3), calls: Number(process.env.CALLS ?? 2000) })) printTable(s.title, s.rows, s.notes);
  process.exit(0);
}
