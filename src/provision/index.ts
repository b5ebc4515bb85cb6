// Host provisioning (issue 4): the store's accounts written as the files a Linux host uses —
// passwd, group, shadow, gshadow, smbpasswd, a sudoers.d file, an sshd_config.d snippet and each
// user's authorized_keys — under the host root, after every committed account change.
//
//   startProvisioner(app)   called once from App.create
//   provisionNow(app)       full regeneration now; resolves when written
//   checkDrift(app)         files that differ from what the store says (writes nothing)

import type { App } from "../app.js";
import { Provisioner, detectDrift, type DriftEntry, type ProvisionContext, type ProvisionerOptions, type RunResult } from "./provisioner.js";

export { Provisioner, detectDrift, parseHints, type DriftEntry, type ProvisionContext, type RunResult } from "./provisioner.js";
export * from "./generate.js";
export type { ProvUser, ProvGroup, ProvPolicy, Snapshot } from "./types.js";
export { readSnapshot } from "./snapshot.js";

const provisioners = new WeakMap<App, Provisioner>();

export function contextOf(app: App): ProvisionContext {
  return {
    db: app.store.db,
    dialect: app.store.dialect,
    hostRoot: app.config.hostRoot,
    storageRoots: app.config.storageRoots,
    log: app.log,
  };
}

function envMs(name: string): number | undefined {
  const v = process.env[name];
  return v !== undefined && v !== "" && Number.isFinite(Number(v)) ? Number(v) : undefined;
}

/**
 * Attach the writer to the app: every committed account change schedules a run, shutdown writes
 * what is pending, and a first full run brings the host root in line with the store.
 * Tunable with GATEHOUSE_PROVISION_DEBOUNCE_MS (default 25) and GATEHOUSE_PROVISION_RECONCILE_MS
 * (default 3000; 0 = no reconciling full run after incremental ones).
 */
export function startProvisioner(app: App, opts: ProvisionerOptions = {}): Provisioner {
  const existing = provisioners.get(app);
  if (existing) return existing;
  const p = new Provisioner(contextOf(app), {
    debounceMs: opts.debounceMs ?? envMs("GATEHOUSE_PROVISION_DEBOUNCE_MS"),
    reconcileMs: opts.reconcileMs ?? envMs("GATEHOUSE_PROVISION_RECONCILE_MS"),
  });
  provisioners.set(app, p);
  app.onAccountsChanged((reason) => p.notify(reason));
  app.onShutdown(() => p.stop());
  p.requestFull();
  return p;
}

export function provisionerOf(app: App): Provisioner {
  return provisioners.get(app) ?? startProvisioner(app);
}

/** Regenerate everything now (after any run in progress). */
export function provisionNow(app: App): Promise<RunResult> {
  return provisionerOf(app).provisionNow();
}

/** Absolute paths of generated files (and authorized_keys) that differ from the store. */
export async function checkDrift(app: App): Promise<string[]> {
  return (await detectDrift(contextOf(app))).map((d) => d.path);
}

export async function checkDriftDetailed(app: App): Promise<DriftEntry[]> {
  return detectDrift(contextOf(app));
}
