// What the fleet access services (system groups, teams, users' fleet fields, explain, matrix) need
// of the application: the store, the change publisher and the event bus. src/app.ts App satisfies
// it structurally; handlers pass `ctx`. Each write records its typed event in its own transaction
// (src/store/changes.ts recordChange) and publishes it after the commit.

import type { Store } from "../store/db.js";
import type { EventBus } from "../server/events.js";
import type { Session } from "../auth/session.js";
import type { ChangeEvent } from "../store/change-event.js";

export interface FleetAccessApp {
  readonly store: Store;
  readonly events: Pick<EventBus, "publish">;
  /** Publish a committed change's typed event in this process (it was recorded in its transaction). */
  changed(ev: ChangeEvent): void;
}

export interface FleetAccessContext {
  app: FleetAccessApp;
  /** The caller (null: the server itself). */
  session: Session | null;
  /** Set here for the audit label: what the call acted on and the grants it changed (AuditFacts). */
  auditSubject?: string;
}
