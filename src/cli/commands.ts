// Client subcommands: `call` and the readable account commands. They talk to a running server
// over its WebSocket API, logged in with --user/--password, --api-key or GATEHOUSE_API_KEY.

import type { Command } from "commander";
import { RpcCallError, RpcClient } from "./client.js";

export interface ClientOptions {
  url?: string;
  user?: string;
  password?: string;
  apiKey?: string;
  insecure?: boolean;
}

export function addClientOptions(cmd: Command): Command {
  return cmd
    .option("--url <url>", "server WebSocket URL (GATEHOUSE_URL)", process.env.GATEHOUSE_URL ?? "ws://127.0.0.1:8440/api/current")
    .option("-u, --user <username>", "log in as this user (GATEHOUSE_USER)")
    .option("-p, --password <password>", "password (GATEHOUSE_PASSWORD)")
    .option("-k, --api-key <key>", "API key (GATEHOUSE_API_KEY)")
    .option("--insecure", "accept any TLS certificate");
}

export async function connectClient(opts: ClientOptions): Promise<RpcClient> {
  const client = await RpcClient.connect(opts.url ?? "ws://127.0.0.1:8440/api/current", { rejectUnauthorized: !opts.insecure });
  const apiKey = opts.apiKey ?? process.env.GATEHOUSE_API_KEY;
  const user = opts.user ?? process.env.GATEHOUSE_USER;
  const password = opts.password ?? process.env.GATEHOUSE_PASSWORD;
  let res: { response_type: string } | null = null;
  if (apiKey) res = await client.loginApiKey(apiKey, user ?? "");
  else if (user) res = await client.login(user, password ?? "");
  if (res && res.response_type !== "SUCCESS") {
    await client.close();
    throw new Error(`login failed: ${res.response_type}`);
  }
  return client;
}

export function printError(err: unknown): void {
  if (err instanceof RpcCallError) {
    process.stderr.write(`${err.data?.reason ?? err.message}\n`);
    for (const [attr, msg] of err.extra) process.stderr.write(`  ${attr}: ${msg}\n`);
  } else {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  }
}

export function registerCallCommands(program: Command): void {
  addClientOptions(
    program
      .command("call <method> [params...]")
      .description("Call an API method; each param is JSON (bare words are taken as strings). Prints the JSON result.")
      .option("--job", "wait for a job's result instead of printing its id"),
  ).action(async (method: string, params: string[], opts: ClientOptions & { job?: boolean }) => {
    const args = params.map((p) => {
      try {
        return JSON.parse(p);
      } catch {
        return p;
      }
    });
    let client: RpcClient | null = null;
    try {
      client = await connectClient(opts);
      const result = opts.job ? await client.callJob(method, ...args) : await client.call(method, ...args);
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } catch (err) {
      printError(err);
      process.exitCode = 1;
    } finally {
      await client?.close();
    }
  });
}
