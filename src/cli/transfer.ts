// `gatehouse import FILE…`, `gatehouse export` and `gatehouse adopt --host-root DIR`: on the host,
// opening the store directly (same --data-dir / --database / --host-root flags as `serve`), like
// `provision` and `reset-admin`. Access to the store's files (or its PostgreSQL URL) is what
// authorises them: that is full administrator access. Each run is audited; an import or adopt is
// one transaction followed by one provisioning run.

import { chmodSync, closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { EVERYTHING } from "../store/change-event.js";
import path from "node:path";
import pino from "pino";
import type { Command } from "commander";
import cliProgress from "cli-progress";
import { App } from "../app.js";
import { resolveConfig, type ConfigInput } from "../config.js";
import { writeAudit } from "../audit/audit.js";
import { hashRounds } from "../accounts/account-settings.js";
import { importAccounts, type ImportResult, type RowError } from "../accounts/import.js";
import { readExport, renderExport, renderGroupsCsv, type ExportFormat } from "../accounts/export.js";
import { FileFormatError, readAccountsFile, type RawRecord } from "../accounts/transfer-format.js";
import { adoptHost, type AdoptResult } from "../accounts/adopt.js";
import { seedBuiltins } from "../accounts/builtins.js";
import { openStore } from "../store/db.js";
import { preparePrivateDir } from "../store/private-dir.js";
import { Provisioner } from "../provision/index.js";

type StoreFlags = ConfigInput & { storageRoot?: string[] };

function storeOptions(cmd: Command): Command {
  return cmd
    .option("--data-dir <dir>", "data directory (GATEHOUSE_DATA_DIR, default ./.data)")
    .option("--database <url>", "postgres://… when the server uses PostgreSQL (GATEHOUSE_DATABASE_URL)")
    .option("--host-root <dir>", "host root (GATEHOUSE_HOST_ROOT)")
    .option("--storage-root <dir...>", "directories home directories may live in (GATEHOUSE_STORAGE_ROOTS)");
}

async function openApp(opts: StoreFlags): Promise<App> {
  const config = { ...resolveConfig({ ...opts, logLevel: "silent" }), logLevel: "silent" };
  return App.create(config);
}

async function audit(app: App, method: string, description: string, params: unknown, success = true): Promise<void> {
  await writeAudit(app, {
    event: "METHOD_CALL",
    eventData: { method, params: [params], description, authenticated: true, authorized: true },
    success,
    conn: null,
    session: app.auth.internalSession(),
  });
}

/** A progress bar on stderr when it is a terminal (nothing otherwise: logs stay clean). */
function progressBar(enabled: boolean) {
  if (!enabled || !process.stderr.isTTY) return undefined;
  const bar = new cliProgress.SingleBar({ stream: process.stderr, format: "{phase} [{bar}] {value}/{total}", hideCursor: true }, cliProgress.Presets.shades_classic);
  let phase = "";
  return {
    update(p: string, done: number, total: number) {
      if (p !== phase) {
        if (phase) bar.stop();
        phase = p;
        bar.start(total, done, { phase: p.padEnd(8) });
      } else bar.update(done);
    },
    stop() {
      if (phase) bar.stop();
    },
  };
}

export function formatRowError(e: RowError): string {
  const where = e.line ? `line ${e.line}` : e.kind;
  return `${where}${e.name ? ` (${e.name})` : ""}: ${e.field}: ${e.message}`;
}

function report(r: ImportResult | AdoptResult, json: boolean): void {
  if (json) return void process.stdout.write(`${JSON.stringify(r)}\n`);
  for (const e of r.errors) process.stderr.write(`${formatRowError(e)}\n`);
  if (r.refused) process.stderr.write(`${r.errors.length} problem(s): nothing was imported.\n`);
  else
    process.stdout.write(
      `${r.dryRun ? "would import" : "imported"} ${r.groups} group(s), ${r.users} user(s), ${r.memberships} membership(s)${r.errors.length ? `; ${r.errors.length} invalid record(s) skipped` : ""}\n`,
    );
}

async function runImport(files: string[], opts: StoreFlags & { dryRun?: boolean; skipInvalid?: boolean; json?: boolean; progress?: boolean }): Promise<number> {
  let records: RawRecord[] = [];
  for (const f of files) {
    try {
      records = records.concat(readAccountsFile(readFileSync(f, "utf8")));
    } catch (e) {
      process.stderr.write(`${f}: ${e instanceof FileFormatError || e instanceof Error ? e.message : String(e)}\n`);
      return 2;
    }
  }
  const app = await openApp(opts);
  const bar = progressBar(opts.progress !== false);
  try {
    const r = await importAccounts({ db: app.store.db, dialect: app.store.dialect, config: app.config }, records, {
      dryRun: opts.dryRun,
      skipInvalid: opts.skipInvalid,
      hashRounds: await hashRounds(app),
      progress: bar ? (p, d, t) => bar.update(p, d, t) : undefined,
    });
    bar?.stop();
    if (!r.dryRun && !r.refused && (r.users || r.groups)) {
      await audit(app, "user.import", `Import ${r.users} users and ${r.groups} groups from ${files.join(", ")}`, { files, users: r.users, groups: r.groups, skipped: r.errors.length });
      app.changed(EVERYTHING);
    }
    await app.shutdown();
    report(r, !!opts.json);
    return r.refused ? 1 : 0;
  } finally {
    bar?.stop();
    await app.close();
  }
}

async function runExport(opts: StoreFlags & { format?: string; groups?: boolean; withHashes?: boolean; output?: string }): Promise<number> {
  const format = (opts.format ?? "json") as ExportFormat;
  if (format !== "json" && format !== "csv") throw new Error("--format is json or csv");
  if (opts.withHashes && !opts.output) throw new Error("--with-hashes writes to a file (--output), created 0600");
  if (opts.groups && format !== "csv") throw new Error("--groups is for --format csv (the JSON holds both)");
  const app = await openApp(opts);
  try {
    const data = await readExport(app.store.db, { withHashes: opts.withHashes });
    const chunks = opts.groups ? renderGroupsCsv(data) : renderExport(data, format, { withHashes: opts.withHashes });
    // The file is created 0600 (hashes, names and keys of every account) before a byte is written.
    const fd = opts.output ? openSync(opts.output, "w", 0o600) : 1;
    try {
      if (opts.output) chmodSync(opts.output, 0o600);
      let buf = "";
      for (const c of chunks) {
        buf += c;
        if (buf.length > 1 << 20) {
          writeSync(fd, buf);
          buf = "";
        }
      }
      writeSync(fd, buf);
    } finally {
      if (fd !== 1) closeSync(fd);
    }
    await audit(app, "user.export", `Export ${data.users.length} users and ${data.groups.length} groups${opts.withHashes ? " with password hashes" : ""}`, {
      format,
      with_hashes: !!opts.withHashes,
      output: opts.output ?? "-",
      users: data.users.length,
      groups: data.groups.length,
    });
    await app.shutdown();
    return 0;
  } finally {
    await app.close();
  }
}

/**
 * Adopt opens the store without starting a server's provisioner: that would rewrite the host's
 * passwd from a store of built-ins — dropping the very accounts about to be adopted — before they
 * are read. The host files are rewritten once, after the adoption committed.
 */
async function runAdopt(opts: StoreFlags & { dryRun?: boolean; json?: boolean; backupDir?: string }): Promise<number> {
  if (!opts.hostRoot) throw new Error("--host-root DIR is required (the root whose etc/passwd, shadow, group and gshadow are taken over)");
  const config = resolveConfig({ ...opts, logLevel: "silent" });
  const log = pino({ level: "warn" }, pino.destination(2));
  if (!config.database) preparePrivateDir(config.dataDir, log);
  const store = await openStore({ url: config.database, dataDir: config.dataDir });
  try {
    await seedBuiltins({ store, config });
    const r = await adoptHost({ db: store.db, dialect: store.dialect, config }, { dryRun: opts.dryRun, backupDir: opts.backupDir ?? path.join(config.dataDir, "adopt-backup") });
    if (!r.dryRun && !r.refused) {
      await writeAudit(
        { store, log },
        {
          event: "METHOD_CALL",
          eventData: {
            method: "user.adopt",
            params: [{ host_root: config.hostRoot, users: r.users, groups: r.groups, backup: r.backup }],
            description: `Adopt ${r.users} users and ${r.groups} groups from ${config.hostRoot} (backup ${r.backup})`,
            authenticated: true,
            authorized: true,
          },
          success: true,
          conn: null,
          session: null,
          username: "root (gatehouse adopt)",
        },
      );
      const p = new Provisioner({ db: store.db, dialect: store.dialect, hostRoot: config.hostRoot, storageRoots: config.storageRoots, log }, { reconcileMs: 0, intervalMs: 0 });
      await p.provisionNow();
      await p.stop();
    }
    report(r, !!opts.json);
    if (!r.refused && r.backup && !opts.json) process.stdout.write(`originals backed up in ${r.backup}\n`);
    return r.refused ? 1 : 0;
  } finally {
    await store.close();
  }
}

export function registerTransferCommands(program: Command): void {
  storeOptions(
    program
      .command("import <files...>")
      .description("Import users and groups from the accounts JSON or users/groups CSV files (all or nothing; errors name line and field)")
      .option("--dry-run", "check and report what would be imported; write nothing")
      .option("--skip-invalid", "import the valid records and report the others (default: nothing when any is invalid)")
      .option("--no-progress", "no progress bar")
      .option("--json", "print the result as JSON"),
  ).action(async (files: string[], opts) => {
    process.exitCode = await runImport(files, opts);
  });
  storeOptions(
    program
      .command("export")
      .description("Export every local (non-built-in) user and group: JSON (both) or CSV (users; --groups for groups)")
      .option("--format <format>", "json or csv", "json")
      .option("--groups", "with --format csv: the groups file instead of the users file")
      .option("--with-hashes", "include password hashes (needs --output; the file is created 0600; audited)")
      .option("-o, --output <file>", "write to this file (default: standard output)"),
  ).action(async (opts) => {
    process.exitCode = await runExport(opts);
  });
  storeOptions(
    program
      .command("adopt")
      .description("Take over a host's passwd, shadow, group and gshadow into a store that holds only built-ins (hashes, ids, memberships kept; originals backed up)")
      .option("--dry-run", "check and report; write nothing")
      .option("--backup-dir <dir>", "where the original files are copied (default <data-dir>/adopt-backup)")
      .option("--json", "print the result as JSON"),
  ).action(async (opts) => {
    process.exitCode = await runAdopt(opts);
  });
}
