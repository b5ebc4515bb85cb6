// `gatehouse provision [--check]`: regenerate the host's account files from the store on demand,
// or (--check) report where the files differ from the store and exit 1 when they do. Opens the
// store directly, with the same --data-dir / --database / --host-root flags as `serve`, so it
// works while the server is down (and alongside it: every file is replaced atomically).

import { existsSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import pino from "pino";
import { resolveConfig } from "../config.js";
import { openStore } from "../store/db.js";
import { preparePrivateDir, sqlitePathOf, SQLITE_FILE } from "../store/private-dir.js";
import { Provisioner, detectDrift, type ProvisionContext } from "../provision/index.js";

interface ProvisionFlags {
  dataDir?: string;
  database?: string;
  hostRoot?: string;
  storageRoot?: string[];
  logLevel?: string;
  check?: boolean;
  json?: boolean;
}

export function registerProvisionCommand(program: Command): void {
  program
    .command("provision")
    .description("Write the host's account files (passwd, group, shadow, gshadow, smbpasswd, sudoers, sshd snippet, authorized_keys) from the store")
    .option("--check", "only report files that differ from the store; exit 1 when any do")
    .option("--json", "print the result as JSON")
    .option("--data-dir <dir>", "data directory (GATEHOUSE_DATA_DIR, default ./.data)")
    .option("--database <url>", "postgres://… (GATEHOUSE_DATABASE_URL); default the SQLite file in the data directory")
    .option("--host-root <dir>", "root of the host to provision (GATEHOUSE_HOST_ROOT, default <data-dir>/root)")
    .option("--storage-root <dir...>", "directories home directories may live in (GATEHOUSE_STORAGE_ROOTS)")
    .option("--log-level <level>", "log level on stderr", "warn")
    .action(async (opts: ProvisionFlags) => {
      process.exitCode = await provisionCommand(opts);
    });
}

export async function provisionCommand(opts: ProvisionFlags): Promise<number> {
  const config = resolveConfig({ dataDir: opts.dataDir, database: opts.database, hostRoot: opts.hostRoot, storageRoot: opts.storageRoot });
  const log = pino({ level: opts.logLevel ?? "warn" }, pino.destination(2));
  const hasStore = existsSync(sqlitePathOf(config.dataDir)) || existsSync(path.join(config.dataDir, SQLITE_FILE));
  if (!config.database && !hasStore) {
    process.stderr.write(`no store at ${sqlitePathOf(config.dataDir)} (give --data-dir or --database)\n`);
    return 2;
  }
  if (!config.database) preparePrivateDir(config.dataDir, log);
  const store = await openStore({ url: config.database, dataDir: config.dataDir });
  const ctx: ProvisionContext = { db: store.db, dialect: store.dialect, hostRoot: config.hostRoot, storageRoots: config.storageRoots, log };
  try {
    if (opts.check) {
      const drift = await detectDrift(ctx);
      if (opts.json) process.stdout.write(`${JSON.stringify({ drift })}\n`);
      else if (drift.length === 0) process.stdout.write(`no drift: the files under ${config.hostRoot} match the store\n`);
      else for (const d of drift) process.stdout.write(`${d.reason}\t${d.path}\n`);
      return drift.length ? 1 : 0;
    }
    const p = new Provisioner(ctx, { reconcileMs: 0 });
    const r = await p.provisionNow();
    await p.stop();
    if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
    else if (r.written.length === 0) process.stdout.write(`up to date: nothing to write under ${config.hostRoot}\n`);
    else process.stdout.write(`${r.written.map((f) => `wrote\t${f}`).join("\n")}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`provision failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    await store.close();
  }
}
