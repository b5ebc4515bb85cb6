// Load generator, run as a separate process so client and server don't share a core's time.
// argv: JSON (or @file) {url, login?: {username, password}, calls, inflight, requests: [{method, params}] (cycled)}
// prints JSON {callsPerSec, p50, p99, errors}.

import { RpcClient } from "../src/cli/client.js";

// The spec comes as JSON text or, for large request lists, as "@<file>".
const arg = process.argv[2]!;
const spec = JSON.parse(arg.startsWith("@") ? (await import("node:fs")).readFileSync(arg.slice(1), "utf8") : arg) as {
  url: string;
  login?: { username: string; password: string };
  calls: number;
  inflight: number;
  requests: { method: string; params: unknown[] }[];
  /** Replay the first requests before measuring (off for calls that change state). */
  warmup?: boolean;
  /**
   * Requests replayed once before measuring, none of them among the measured ones: this process's
   * own code (the answer's decoding) runs compiled from the first measured call, and no answer
   * is reused (calls that must each be new, e.g. a new search text each).
   */
  warmupRequests?: { method: string; params: unknown[] }[];
  /** Count a result whose response_type differs as an error (login benchmarks). */
  expectResponseType?: string;
};

const client = await RpcClient.connect(spec.url);
if (spec.login) {
  const r = await client.login(spec.login.username, spec.login.password);
  if (r.response_type !== "SUCCESS") throw new Error(`login failed ${JSON.stringify(r)}`);
}
// Warm-up.
for (const req of spec.warmupRequests ?? []) await client.call(req.method, ...req.params);
if (spec.warmup !== false) for (let i = 0; i < Math.min(500, spec.calls); i++) await client.call(spec.requests[i % spec.requests.length]!.method, ...spec.requests[i % spec.requests.length]!.params);

const latencies = new Float64Array(spec.calls);
let next = 0;
let errors = 0;
const start = process.hrtime.bigint();
async function worker() {
  for (;;) {
    const i = next++;
    if (i >= spec.calls) return;
    const req = spec.requests[i % spec.requests.length]!;
    const t0 = process.hrtime.bigint();
    try {
      const r = await client.call(req.method, ...req.params);
      if (spec.expectResponseType && r?.response_type !== spec.expectResponseType) errors++;
    } catch {
      errors++;
    }
    latencies[i] = Number(process.hrtime.bigint() - t0) / 1e6;
  }
}
await Promise.all(Array.from({ length: spec.inflight }, worker));
const end = process.hrtime.bigint();
const seconds = Number(end - start) / 1e9;
const sorted = Array.from(latencies).sort((a, b) => a - b);
const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
process.stdout.write(JSON.stringify({ callsPerSec: spec.calls / seconds, p50: pct(0.5), p99: pct(0.99), errors, measuredFrom: String(start), measuredTo: String(end) }));
await client.close();
process.exit(0);
