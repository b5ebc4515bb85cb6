// What the fleet access services (system groups, teams, users' fleet fields, explain, matrix) need
// of the application: the store, the change signal and the event bus. src/app.ts App satisfies it
// structurally; handlers pass `ctx`.

import type { Store } from "../store/db.js";
import type { EventBus } from "../server/events.js";
import type { Session } from "../auth/session.js";

export interface FleetAccessApp {
  readonly store: Store;
  readonly events: Pick<EventBus, "publish">;
  /** Tell the listeners (caches, sessions) that a transaction committed. */
  accountsChanged(reason: string): void;
}

export interface FleetAccessContext {
  app: FleetAccessApp;
  /** The caller (null: the server itself). */
  session: Session | null;
  /** Set here for the audit label: what the call acted on and the grants it changed (AuditFacts). */
  auditSubject?: string;
}
