// The fleet's per-process runtime: the connection pool to managed systems, the cache of each
// system's method list (for the proxy's read/write decision) and the status poller. One per App,
// started by App.create (startFleetRuntime) and stopped at shutdown. Nothing here decides access:
// rights are read from the store on every call (./effective-access.ts) or from the fleet index of
// the store's present version (./access-index.ts).

import { noteLocalChange } from "./access-index.js";
import { CallAudit } from "./call-audit.js";
import { CallJournal, journalDirOf } from "./call-journal.js";
import { ConnectionPool, type PoolOptions } from "./connection-pool.js";
import { StatusPoller } from "./poller.js";
import { RemoteMethodCache } from "./remote-methods.js";
import { systemEventFor } from "./system-events.js";
import type { FleetRuntimeApp, ProbeRuntime } from "./runtime-context.js";

export type { FleetRuntimeApp } from "./runtime-context.js";

export interface FleetRuntime extends ProbeRuntime {
  readonly poller: StatusPoller;
  readonly methods: RemoteMethodCache;
  /** The proxied calls' audit entries (journaled before sending, folded into the audit table). */
  readonly audit: CallAudit;
}

const runtimes = new WeakMap<object, FleetRuntime>();

/** Environment knobs (tests shorten them). */
function envNumber(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

/** Start the runtime of `app` (once). The poller runs every GATEHOUSE_FLEET_POLL_MS (default 30 s). */
export function startFleetRuntime(app: FleetRuntimeApp, opts: PoolOptions = {}): FleetRuntime {
  const existing = runtimes.get(app);
  if (existing) return existing;
  const pool = new ConnectionPool({ backoffMaxMs: envNumber("GATEHOUSE_FLEET_BACKOFF_MAX_MS", 15_000), ...opts });
  // The call audit folds journals left by a stopped process as it starts.
  const audit = new CallAudit(app, new CallJournal(journalDirOf(app.config.dataDir)));
  const rt: FleetRuntime = { app, pool, poller: new StatusPoller({ app, pool }, envNumber("GATEHOUSE_FLEET_POLL_MS", 30_000)), methods: new RemoteMethodCache(), audit };
  runtimes.set(app, rt);
  app.events.setGate("fleet.system.query", (session, payload) => systemEventFor(app.store.db, session, payload));
  rt.poller.start();
  // The fleet index (./access-index.ts) is read again after any change this process commits.
  app.onChange(() => noteLocalChange(app.store));
  app.onShutdown(async () => {
    // The timer first, then the connections (a probe in flight fails at once), then the round ends.
    const stopped = rt.poller.stop();
    pool.closeAll();
    await stopped;
    // The calls' entries and outcomes into the table before the store closes.
    await audit.close();
  });
  return rt;
}

/** The runtime of the application a handler runs in. */
export function fleetRuntime(app: object): FleetRuntime {
  const rt = runtimes.get(app);
  if (!rt) throw new Error("the fleet runtime was not started for this application");
  return rt;
}
