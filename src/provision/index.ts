// Host provisioning (issue 4): the store's accounts written as the files a Linux host uses —
// passwd, group, shadow, gshadow, smbpasswd, a sudoers.d file, an sshd_config.d snippet and each
// user's authorized_keys — under the host root, after every committed account change.
//
//   startProvisioner(app)   called once from App.create
//   provisionNow(app)       full regeneration now; resolves when written
//   checkDrift(app)         files that differ from what the store says (writes nothing)

import type { Logger } from "pino";
import type { Config } from "../config.js";
import type { Store } from "../store/db.js";
import type { ChangeEvent } from "../store/change-event.js";
import { Provisioner, detectDrift, type DriftEntry, type ProvisionContext, type ProvisionerOptions, type RunResult } from "./provisioner.js";
import { writeAudit } from "../audit/audit.js";
import { insertSystemAccounts } from "../accounts/system-accounts.js";
import type { DriftFound, SystemAccounts } from "./drift.js";

export { Provisioner, detectDrift, type DriftEntry, type ProvisionContext, type RunResult } from "./provisioner.js";
export * from "./generate.js";
export type { ProvUser, ProvGroup, ProvPolicy, Snapshot } from "./types.js";
export { readSnapshot } from "./snapshot.js";

const provisioners = new WeakMap<ProvisionApp, Provisioner>();

/** What host provisioning needs of the application (src/app.ts App satisfies it). */
export interface ProvisionApp {
  readonly store: Store;
  readonly config: Pick<Config, "hostRoot" | "storageRoots">;
  readonly log: Logger;
  onChange(listener: (ev: ChangeEvent) => void): void;
  onShutdown(hook: () => Promise<void>): void;
}

export function contextOf(app: ProvisionApp): ProvisionContext {
  return {
    db: app.store.db,
    dialect: app.store.dialect,
    hostRoot: app.config.hostRoot,
    storageRoots: app.config.storageRoots,
    log: app.log,
    changes: app.store.changes,
    onDrift: (found) => auditDrift(app, found),
    adoptSystemAccounts: (found) => adoptSystemAccounts(app, found),
  };
}

/** Audited as the provisioner (no session): which files, why, and which entries differed. */
function auditProvision(app: ProvisionApp, method: string, description: string, params: unknown): Promise<void> {
  return writeAudit(app, {
    event: "METHOD_CALL",
    eventData: { method, params: [params], description, authenticated: true, authorized: true },
    success: true,
    conn: null,
    session: null,
    username: "gatehouse-provision",
  });
}

async function auditDrift(app: ProvisionApp, found: DriftFound[]): Promise<void> {
  const what = found.map((d) => `${d.file} (${d.reason}${d.entries.length ? `: ${d.entries.slice(0, 10).join(", ")}` : ""})`).join("; ");
  await auditProvision(
    app,
    "provision.drift",
    `Host files edited outside Gatehouse rewritten: ${what}`,
    found.map((d) => ({ file: d.file, reason: d.reason, entries: d.entries.slice(0, 10) })),
  );
}

/** A package's system accounts become built-ins rather than being reverted. */
async function adoptSystemAccounts(app: ProvisionApp, found: SystemAccounts): Promise<void> {
  const done = await insertSystemAccounts(app.store.db, found);
  if (!done.users.length && !done.groups.length) return;
  const names = [...done.users.map((u) => `user ${u.name} (${u.uid})`), ...done.groups.map((g) => `group ${g.name} (${g.gid})`)];
  app.log.warn({ adopted: names }, "system accounts a package added to the host files adopted as built-ins");
  await auditProvision(app, "provision.adopt_system_accounts", `System accounts added outside Gatehouse adopted as built-ins: ${names.join(", ")}`, {
    users: done.users.map((u) => u.name),
    groups: done.groups.map((g) => g.name),
  });
}

function envMs(name: string): number | undefined {
  const v = process.env[name];
  return v !== undefined && v !== "" && Number.isFinite(Number(v)) ? Number(v) : undefined;
}

/**
 * Attach the writer to the app: every committed account change schedules a run, shutdown writes
 * what is pending, and a first full run brings the host root in line with the store.
 * Tunable with GATEHOUSE_PROVISION_DEBOUNCE_MS (default 25), GATEHOUSE_PROVISION_RECONCILE_MS
 * (default 3000; 0 = no reconciling full run after incremental ones),
 * GATEHOUSE_PROVISION_REMOTE_MS (full run this long after another process announced a commit on
 * PostgreSQL; default 3000; 0 = ignore announcements) and GATEHOUSE_PROVISION_INTERVAL_MS
 * (periodic full run, default 60 s, 0 = off: repairs host files edited behind the server's back —
 * logged and audited as drift — adopts system accounts a package added, and on PostgreSQL picks
 * up changes made while this process could not listen for announcements). A full run with nothing changed since the last one
 * skips the store read (the change feed's stamp).
 */
export function startProvisioner(app: ProvisionApp, opts: ProvisionerOptions = {}): Provisioner {
  const existing = provisioners.get(app);
  if (existing) return existing;
  const p = new Provisioner(contextOf(app), {
    debounceMs: opts.debounceMs ?? envMs("GATEHOUSE_PROVISION_DEBOUNCE_MS"),
    reconcileMs: opts.reconcileMs ?? envMs("GATEHOUSE_PROVISION_RECONCILE_MS"),
    intervalMs: opts.intervalMs ?? envMs("GATEHOUSE_PROVISION_INTERVAL_MS") ?? 60_000,
    remoteMs: opts.remoteMs ?? envMs("GATEHOUSE_PROVISION_REMOTE_MS"),
  });
  provisioners.set(app, p);
  app.onChange((ev) => p.notify(ev));
  app.onShutdown(() => p.stop());
  p.requestFull();
  return p;
}

export function provisionerOf(app: ProvisionApp): Provisioner {
  return provisioners.get(app) ?? startProvisioner(app);
}

/** Regenerate everything now (after any run in progress). */
export function provisionNow(app: ProvisionApp): Promise<RunResult> {
  return provisionerOf(app).provisionNow();
}

/** Absolute paths of generated files (and authorized_keys) that differ from the store. */
export async function checkDrift(app: ProvisionApp): Promise<string[]> {
  return (await detectDrift(contextOf(app))).map((d) => d.path);
}

export async function checkDriftDetailed(app: ProvisionApp): Promise<DriftEntry[]> {
  return detectDrift(contextOf(app));
}
