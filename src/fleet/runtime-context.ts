// What the fleet's parts need of the application and of each other, as interfaces: the runtime
// (./runtime.ts) holds a poller, and the poller and status probes use the runtime's pool — this
// leaf names that shape so none of them imports another in a loop.

import type { Logger } from "pino";
import type { Store } from "../store/db.js";
import type { SecretBox } from "../store/secret-box.js";
import type { EventBus } from "../server/events.js";
import type { ConnectionPool } from "./connection-pool.js";

/** What the fleet runtime needs of the application (src/app.ts App satisfies it). */
export interface FleetRuntimeApp {
  readonly store: Store;
  /** The data dir (the proxy's call journal lives in its private directory). */
  readonly config: { readonly dataDir: string };
  readonly secretBox: SecretBox;
  readonly events: Pick<EventBus, "publish" | "setGate">;
  readonly log: Logger;
  onShutdown(hook: () => Promise<void>): void;
  /** Called after every change this process commits (src/app.ts App.onChange). */
  onChange(listener: () => void): void;
}

/** The application and the connection pool: what probing a system needs. */
export interface ProbeRuntime {
  readonly app: FleetRuntimeApp;
  readonly pool: ConnectionPool;
}
