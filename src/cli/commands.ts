// Client subcommands: `call` and the readable account commands. They talk to a running server
// over its WebSocket API, logged in with --user/--password, --api-key or GATEHOUSE_API_KEY — or,
// on the server's own machine, over its Unix socket, where the server knows the caller by its
// peer credentials (root: full administrator; another user: their roles) and no password is sent.
// A call never hangs: every step is bounded by --timeout, and a refusal exits non-zero saying why.

import { existsSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { RpcCallError, RpcClient } from "./client.js";

export interface ClientOptions {
  url?: string;
  user?: string;
  password?: string;
  apiKey?: string;
  insecure?: boolean;
  socket?: string;
  timeout?: string;
}

const DEFAULT_URL = "ws://127.0.0.1:8440/api/current";

export function addClientOptions(cmd: Command): Command {
  return cmd
    .option("--url <url>", `server WebSocket URL (GATEHOUSE_URL; default: the local socket if there is one, else ${DEFAULT_URL})`)
    .option("--socket <path>", "the server's Unix socket on this machine (GATEHOUSE_SOCKET; default /run/gatehouse.sock or <GATEHOUSE_DATA_DIR or .data>/gatehouse.sock)")
    .option("-u, --user <username>", "log in as this user (GATEHOUSE_USER)")
    .option("-p, --password <password>", "password (GATEHOUSE_PASSWORD)")
    .option("-k, --api-key <key>", "API key (GATEHOUSE_API_KEY)")
    .option("--insecure", "accept any TLS certificate")
    .option("--timeout <seconds>", "give up after this long (GATEHOUSE_CALL_TIMEOUT, default 60)");
}

/** The local socket to use, when no URL was asked for and one exists. */
function localSocket(opts: ClientOptions, env: NodeJS.ProcessEnv = process.env): string | null {
  if (opts.url || env.GATEHOUSE_URL) return null;
  const explicit = opts.socket ?? env.GATEHOUSE_SOCKET;
  if (explicit) return explicit;
  for (const p of ["/run/gatehouse.sock", path.resolve(env.GATEHOUSE_DATA_DIR ?? ".data", "gatehouse.sock")]) if (existsSync(p)) return p;
  return null;
}

export function timeoutMs(opts: ClientOptions): number {
  const s = Number(opts.timeout ?? process.env.GATEHOUSE_CALL_TIMEOUT ?? 60);
  return Number.isFinite(s) && s > 0 ? s * 1000 : 60_000;
}

/** `p`, or a rejection naming `what` once `ms` have passed. */
export function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

const LOGIN_REFUSALS: Record<string, string> = {
  AUTH_ERR: "wrong user name, password or API key",
  EXPIRED: "the password or API key has expired",
  DENIED: "the account may not use the API, or is temporarily locked after failed logins",
  OTP_REQUIRED: "the account needs a second factor (not supported by this command)",
};

export async function connectClient(opts: ClientOptions): Promise<RpcClient> {
  const ms = timeoutMs(opts);
  const socket = localSocket(opts);
  const url = socket ? `ws+unix://${socket}:/api/current` : (opts.url ?? process.env.GATEHOUSE_URL ?? DEFAULT_URL);
  const where = socket ? `the server's socket ${socket}` : url;
  const client = await bounded(RpcClient.connect(url, { rejectUnauthorized: !opts.insecure }), ms, `connecting to ${where}`).catch((err: Error) => {
    throw new Error(`cannot reach ${where}: ${err.message}`);
  });
  try {
    const apiKey = opts.apiKey ?? process.env.GATEHOUSE_API_KEY;
    const user = opts.user ?? process.env.GATEHOUSE_USER;
    const password = opts.password ?? process.env.GATEHOUSE_PASSWORD;
    let res: { response_type: string } | null = null;
    if (apiKey) res = await bounded(client.loginApiKey(apiKey, user ?? ""), ms, "login");
    else if (user) res = await bounded(client.login(user, password ?? ""), ms, "login");
    if (res && res.response_type !== "SUCCESS") throw new Error(`login refused (${res.response_type}): ${LOGIN_REFUSALS[res.response_type] ?? "refused"}`);
    return client;
  } catch (err) {
    // Closing here is what keeps a refused or rate-limited call from hanging on an open socket.
    client.ws.terminate();
    throw err;
  }
}

export function printError(err: unknown): void {
  if (err instanceof RpcCallError) {
    process.stderr.write(`${err.data?.reason ?? err.message}\n`);
    for (const [attr, msg] of err.extra) process.stderr.write(`  ${attr}: ${msg}\n`);
  } else {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  }
}

/** A managed system's id from its name (or id), as the caller may see it. */
export async function systemIdByName(client: RpcClient, ref: string): Promise<number> {
  const rows = await client.call<{ id: number }[]>("fleet.system.query", [/^\d+$/.test(ref) ? ["id", "=", Number(ref)] : ["name", "=", ref]], { select: ["id"] });
  if (!rows.length) throw new Error(`no such system: ${ref}`);
  return rows[0]!.id;
}

export function registerCallCommands(program: Command): void {
  addClientOptions(
    program
      .command("call <method> [params...]")
      .description("Call an API method; each param is JSON (bare words are taken as strings). Prints the JSON result.")
      .option("--job", "wait for a job's result instead of printing its id")
      .option("--system <name>", "call the method on this managed system through the fleet proxy (name or id; fleet.call)"),
  ).action(async (method: string, params: string[], opts: ClientOptions & { job?: boolean; system?: string }) => {
    const args = params.map((p) => {
      try {
        return JSON.parse(p);
      } catch {
        return p;
      }
    });
    let client: RpcClient | null = null;
    let code = 0;
    try {
      client = await connectClient(opts);
      const ms = timeoutMs(opts);
      // --system: the same call, forwarded by the fleet proxy as the caller's access allows.
      const [m, a] = opts.system ? ["fleet.call", [await systemIdByName(client, opts.system), method, args]] : [method, args];
      const result = await bounded(opts.job ? client.callJob(m, ...a) : client.call(m, ...a), ms, method);
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } catch (err) {
      printError(err);
      code = 1;
    } finally {
      client?.ws.terminate();
    }
    // Whatever is still pending (a timer, a half-closed socket), the command is over.
    await new Promise((r) => process.stdout.write("", r));
    process.exit(code);
  });
}

/** Run `fn` with a logged-in client; report errors the way `gatehouse call` does (exit status 1). */
export async function withClient(opts: ClientOptions, fn: (c: RpcClient) => Promise<void>): Promise<void> {
  let client: RpcClient | null = null;
  try {
    client = await connectClient(opts);
    await fn(client);
  } catch (err) {
    printError(err);
    process.exitCode = 1;
  } finally {
    await client?.close();
  }
}

/** A result as indented JSON on stdout (the commands' --json). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
