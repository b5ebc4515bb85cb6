// What the account services need from the caller, and host-dependent paths they share.

import { existsSync, statSync } from "node:fs";
import path from "node:path";
import type { Logger } from "pino";
import type { Config } from "../config.js";
import type { Store } from "../store/db.js";
import type { EventBus } from "../server/events.js";
import type { JobManager } from "../server/jobs.js";
import type { ProvisionApp } from "../provision/index.js";
import type { Session } from "../auth/session.js";
import type { MailQueue } from "../auth/email-codes.js";
import { NO_HOME } from "./home.js";
import { storageRootOf } from "./storage-root.js";
import { REDACTED } from "../audit/audit.js";
import type { ChangeEvent } from "../store/change-event.js";

/**
 * What the account services need of the application (src/app.ts App satisfies it structurally;
 * handlers pass `ctx.app`). Provisioning is included: deleting a user waits for its run.
 */
export interface AccountsApp extends ProvisionApp {
  readonly store: Store;
  readonly config: Pick<Config, "storageRoots" | "hostRoot" | "hashRounds">;
  readonly log: Logger;
  readonly events: Pick<EventBus, "publish" | "subscribe">;
  readonly jobs: Pick<JobManager, "start">;
  /** Queued mail (address verification codes): src/mail/service.ts. */
  readonly mail: MailQueue;
  /** Tell the listeners (provisioning, sessions) what a committed transaction changed. */
  changed(ev: ChangeEvent): void;
}

export interface AccountContext {
  app: AccountsApp;
  /** The caller (null: the server itself, e.g. setup_local_administrator before any login). */
  session: Session | null;
  /** Set here for the audit label: the name of the account acted on, as read from the store (AuditFacts). */
  auditSubject?: string;
}

const posix = path.posix;

export function insideStorageRoot(app: Pick<AccountsApp, "config">, home: string): boolean {
  return storageRootOf(home, app.config.storageRoots) !== null;
}

/**
 * Where a home lives on this machine. Homes in storage roots are real paths; the built-in
 * accounts' homes (`/root`, `/home/admin`) belong to the provisioned host, so they are resolved
 * inside the host root — which is `/` on a real host and a scratch directory in the demo, so the
 * demo never touches the machine's own `/root`.
 */
export function hostPathOfHome(app: Pick<AccountsApp, "config">, home: string): string | null {
  if (!home || posix.normalize(home) === NO_HOME || !home.startsWith("/")) return null;
  if (insideStorageRoot(app, home)) return home;
  return posix.join(app.config.hostRoot, home);
}

/** Skeleton files for new homes: the host root's /etc/skel, else this machine's. */
export function skelDir(app: Pick<AccountsApp, "config">): string | null {
  for (const dir of [posix.join(app.config.hostRoot, "etc/skel"), "/etc/skel"]) {
    try {
      if (statSync(dir).isDirectory()) return dir;
    } catch {
      // try the next one
    }
  }
  return null;
}

/**
 * Where sudo executables are looked up: the host root when it is a real system (has /usr), else
 * this machine (the demo host root holds only the provisioned account files).
 */
export function sudoRoot(app: Pick<AccountsApp, "config">): string {
  return existsSync(posix.join(app.config.hostRoot, "usr")) ? app.config.hostRoot : "/";
}

/** Event payloads go to every subscriber; secrets never travel in them. */
export function redactSecrets<T extends object>(entry: T, fields: readonly string[]): T {
  const out = { ...entry } as Record<string, unknown>;
  for (const f of fields) if (f in out) out[f] = REDACTED;
  return out as T;
}

// twofactor_secret is never part of an entry; declared so that no query may name it either.
export const USER_SECRET_FIELDS = ["unixhash", "smbhash", "password_history", "twofactor_secret"] as const;
