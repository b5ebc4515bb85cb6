// The `gatehouse` command: serve, call (like the appliance's midclt), readable account
// subcommands, import/export, provision and the on-host break-glass reset-admin.

import { Command } from "commander";
import { resolveConfig } from "../config.js";
import { registerCallCommands } from "./commands.js";

const program = new Command();
program.name("gatehouse").description("Account and access-control server for storage appliances and their fleets");

program
  .command("serve")
  .description("Run the server (HTTP + WebSocket API and web UI)")
  .option("--host <host>", "address to listen on (GATEHOUSE_HOST)", undefined)
  .option("--port <port>", "port (GATEHOUSE_PORT, default 8440)")
  .option("--data-dir <dir>", "data directory (GATEHOUSE_DATA_DIR, default ./.data)")
  .option("--database <url>", "postgres://… to use PostgreSQL instead of the embedded SQLite (GATEHOUSE_DATABASE_URL)")
  .option("--host-root <dir>", "root of the host whose account files are provisioned (GATEHOUSE_HOST_ROOT, default <data-dir>/root)")
  .option("--storage-root <dir...>", "directories home directories may live in (GATEHOUSE_STORAGE_ROOTS, ':'-separated)")
  .option("--tls-cert <file>", "PEM certificate for HTTPS/WSS (GATEHOUSE_TLS_CERT)")
  .option("--tls-key <file>", "PEM private key (GATEHOUSE_TLS_KEY)")
  .option("--log-level <level>", "pino log level (GATEHOUSE_LOG_LEVEL)")
  .action(async (opts) => {
    const { serve } = await import("./serve.js");
    await serve(resolveConfig(opts));
  });

registerCallCommands(program);
// `call` (scripts run it line after line) loads only the client, and so do the readable account and
// fleet commands (clients too): only the commands that open the store pull in the server — loaded
// when one of them is asked for, or for the help that lists every command.
const command = process.argv[2];
const STORE_COMMANDS = new Set(["provision", "reset-admin", "import", "export", "adopt"]);
if (command !== "call") {
  (await import("./accounts.js")).registerAccountCommands(program);
  (await import("./fleet.js")).registerFleetCommands(program);
  (await import("./teams.js")).registerFleetAccessCommands(program);
}
if (command === undefined || command === "help" || command.startsWith("-") || STORE_COMMANDS.has(command)) {
  (await import("./provision.js")).registerProvisionCommand(program);
  (await import("./reset-admin.js")).registerResetAdmin(program);
  (await import("./transfer.js")).registerTransferCommands(program);
}

program.parseAsync(process.argv).catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
