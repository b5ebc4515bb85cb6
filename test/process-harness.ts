// Real server processes for cross-process tests: `gatehouse serve` started as a child process
// from the TypeScript sources through tsx (the code under test, never a stale build), on its own
// data dir and port, on SQLite or a shared PostgreSQL. Stopped by its pid, never by name.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { RpcClient } from "../src/cli/client.js";
import { freshPgDatabase, loginAdmin, rememberStoreKey, setUpAdmin, shareStoreKey, type StoreKind } from "./harness.js";
import { GATEHOUSE_ARGS } from "./gatehouse-command.js";
import { freePort } from "./free-port.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export interface ServerProcess {
  pid: number;
  url: string;
  httpUrl: string;
  port: number;
  dataDir: string;
  /** The PostgreSQL URL (undefined on SQLite): pass it to another process to share the store. */
  databaseUrl: string | undefined;
  client(): Promise<RpcClient>;
  /** A client logged in as the local administrator (set up on first use). */
  adminClient(): Promise<RpcClient>;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  stop(): Promise<void>;
}

export interface ProcessOptions {
  store?: StoreKind;
  /** Share this PostgreSQL database (another process's `databaseUrl`). */
  databaseUrl?: string;
  dataDir?: string;
  /** Extra environment (e.g. GATEHOUSE_* settings). */
  env?: Record<string, string>;
  /** Extra `serve` flags. */
  args?: string[];
  /** Listen on this port (e.g. to come back where a stopped process was); default: a free one. */
  port?: number;
  /** Serve HTTPS/WSS with this certificate and key (PEM files); the URLs become https:// and wss://. */
  tls?: { cert: string; key: string };
}

/** GET /api/versions answers 200 (over HTTPS without checking the certificate: the test made it). */
function versionsOk(httpUrl: string): Promise<boolean> {
  if (!httpUrl.startsWith("https:")) return fetch(`${httpUrl}/api/versions`).then((r) => r.ok);
  return new Promise((resolve, reject) => {
    const req = https.get(`${httpUrl}/api/versions`, { rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", reject);
  });
}

async function waitReady(httpUrl: string, child: ChildProcess, output: () => string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server process exited (${child.exitCode}):\n${output()}`);
    try {
      if (await versionsOk(httpUrl)) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server process not ready after ${timeoutMs} ms:\n${output()}`);
}

export async function startServerProcess(opts: ProcessOptions = {}): Promise<ServerProcess> {
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), "gatehouse-proc-"));
  const databaseUrl = opts.databaseUrl ?? (opts.store === "postgres" ? await freshPgDatabase() : undefined);
  // A data dir the caller made is used as given (tests of the key rule bring their own).
  if (!opts.dataDir) shareStoreKey(databaseUrl, dataDir);
  const port = opts.port ?? (await freePort());
  const args = [...GATEHOUSE_ARGS, "serve", "--host", "127.0.0.1", "--port", String(port), "--data-dir", dataDir, "--log-level", "warn"];
  if (databaseUrl) args.push("--database", databaseUrl);
  if (opts.tls) args.push("--tls-cert", opts.tls.cert, "--tls-key", opts.tls.key);
  args.push(...(opts.args ?? []));
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    // The documented test-only limiter exemption (README): suites log in often from loopback.
    // A test of the limiter itself passes GATEHOUSE_TEST_LIMITER_EXEMPT: "0" in `env`. Results
    // are checked against their declared schemas (src/server/result-check.ts).
    env: { ...process.env, GATEHOUSE_HASH_ROUNDS: "1000", GATEHOUSE_SCRAM_ITERATIONS: "50000", GATEHOUSE_TEST_LIMITER_EXEMPT: "1", GATEHOUSE_CHECK_RESULTS: "1", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const output = () => out;
  const httpUrl = `${opts.tls ? "https" : "http"}://127.0.0.1:${port}`;
  const url = `${opts.tls ? "wss" : "ws"}://127.0.0.1:${port}/api/current`;
  const clients: RpcClient[] = [];
  let adminReady: Promise<void> | null = null;
  const stop = async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitReady(httpUrl, child, output);
    rememberStoreKey(databaseUrl, dataDir);
  } catch (err) {
    await stop();
    throw err;
  }
  const sp: ServerProcess = {
    pid: child.pid!,
    url,
    httpUrl,
    port,
    dataDir,
    databaseUrl,
    async client() {
      const c = await RpcClient.connect(url, opts.tls ? { rejectUnauthorized: false } : {});
      clients.push(c);
      return c;
    },
    async adminClient() {
      const c = await sp.client();
      adminReady ??= setUpAdmin(c);
      await adminReady;
      return loginAdmin(c);
    },
    output,
    stop,
  };
  return sp;
}
