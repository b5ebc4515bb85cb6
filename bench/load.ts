// API calls made from a separate process (bench/load-client.ts), so the client's own CPU does not
// share the measured server's event loop. The spec goes through a temporary file.

import { execFile } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execP = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));

export interface LoadResult {
  callsPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  /** When the measured calls began and ended (process.hrtime.bigint() of the load process, as text: the clock is the host's monotonic one, the same in every process). */
  measuredFrom?: string;
  measuredTo?: string;
}
export type Req = { method: string; params: unknown[] };

/** `calls` calls cycling through `requests`, `inflight` at a time, signed in as `login` when given;
 * `warmup`: 500 calls first, not measured; `warmupRequests`: these first, not measured (none of
 * them among `requests`). Any error answer fails the figure. */
export async function loadFromProcess(
  url: string,
  requests: Req[],
  calls: number,
  inflight: number,
  login: { username: string; password: string } | undefined,
  warmup = true,
  warmupRequests: Req[] = [],
): Promise<LoadResult> {
  const file = path.join(os.tmpdir(), `gatehouse-load-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.json`);
  writeFileSync(file, JSON.stringify({ url, calls, inflight, requests, warmup, warmupRequests, login }));
  try {
    const { stdout } = await execP(process.execPath, ["--import", "tsx", path.join(here, "load-client.ts"), `@${file}`], { maxBuffer: 1 << 20 });
    const res = JSON.parse(stdout) as LoadResult;
    if (res.errors) throw new Error(`${requests[0]?.method}: ${res.errors} errors in ${calls} calls`);
    return res;
  } finally {
    rmSync(file, { force: true });
  }
}
