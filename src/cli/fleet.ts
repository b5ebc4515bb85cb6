// Readable fleet subcommands: `gatehouse system list|add|status`. Thin clients of fleet.system.*
// (every rule and message is the server's); `gatehouse call --system NAME method …` goes through
// the proxy (./commands.ts).

import type { Command } from "commander";
import { addClientOptions, printJson, systemIdByName, type ClientOptions, withClient } from "./commands.js";
import { formatTable } from "./accounts.js";

type Opts = ClientOptions & Record<string, unknown>;

interface SystemStatus {
  reachable: boolean;
  version: string | null;
  latency_ms: number | null;
  error: string | null;
  checked_at: Date | null;
}

interface SystemRow {
  id: number;
  name: string;
  url: string;
  verify_ssl: boolean;
  access: string;
  status: SystemStatus;
}

function statusText(s: SystemStatus): string {
  if (s.reachable) return `up${s.latency_ms === null ? "" : ` (${Math.round(s.latency_ms)} ms)`}`;
  return s.error ? `down: ${s.error}` : s.checked_at ? "down" : "unknown";
}

export function registerFleetCommands(program: Command): void {
  const system = program.command("system").description("Managed systems (fleet)");
  addClientOptions(system.command("list").description("List the systems you may see, with their status").option("--json", "print JSON")).action((o: Opts) =>
    withClient(o, async (c) => {
      const rows = await c.call<SystemRow[]>("fleet.system.query");
      if (o.json) return void printJson(rows);
      process.stdout.write(
        formatTable(
          ["ID", "NAME", "URL", "ACCESS", "VERSION", "STATUS"],
          rows.map((r) => [String(r.id), r.name, r.url, r.access, r.status.version ?? "-", statusText(r.status)]),
        ),
      );
    }),
  );
  addClientOptions(
    system
      .command("add <name> <url>")
      .description("Register a system (the connection is tested first); the API key comes from --system-api-key or GATEHOUSE_SYSTEM_API_KEY")
      .option("--system-api-key <key>", "the system's API key (GATEHOUSE_SYSTEM_API_KEY)")
      .option("--read-api-key <key>", "a read-only key on the system (READ callers go through it)")
      .option("--username <name>", "owner of the keys on the system (enables SCRAM login)")
      .option("--no-verify-ssl", "do not verify the system's TLS certificate")
      .option("--ca <id>", "id of the registered certificate authority that signs the system's certificate")
      .option("--force", "save even when the connection test fails")
      .option("--json", "print the entry as JSON"),
  ).action((name: string, url: string, o: Opts) =>
    withClient(o, async (c) => {
      const apiKey = (o.systemApiKey as string | undefined) ?? process.env.GATEHOUSE_SYSTEM_API_KEY;
      if (!apiKey) throw new Error("the system's API key is required: --system-api-key or GATEHOUSE_SYSTEM_API_KEY");
      const data: Record<string, unknown> = { name, url, api_key: apiKey, verify_ssl: o.verifySsl !== false };
      if (o.readApiKey) data.read_api_key = o.readApiKey;
      if (o.username) data.username = o.username;
      if (o.ca !== undefined) data.ca = Number(o.ca);
      if (o.force) data.force = true;
      const entry = await c.call<SystemRow>("fleet.system.create", data);
      if (o.json) return void printJson(entry);
      process.stdout.write(`${entry.name} (id ${entry.id}): ${statusText(entry.status)}\n`);
    }),
  );
  addClientOptions(system.command("status <system>").description("Check a system now (name or id)").option("--json", "print JSON")).action((ref: string, o: Opts) =>
    withClient(o, async (c) => {
      const s = await c.call<SystemStatus>("fleet.system.status", await systemIdByName(c, ref));
      if (o.json) return void printJson(s);
      process.stdout.write(`${ref}: ${statusText(s)}${s.version ? `, ${s.version}` : ""}\n`);
      if (!s.reachable) process.exitCode = 2;
    }),
  );
}
