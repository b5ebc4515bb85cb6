// What a handler sees: the application services, the caller's connection and session, and the
// job it runs in (if any).

import type { App } from "../app.js";
import type { Connection } from "../server/connection.js";
import type { Session } from "../auth/session.js";
import type { Job } from "../server/jobs.js";

export interface CallContext {
  app: App;
  conn: Connection;
  /** The caller's session; null only for methods callable without authentication. */
  session: Session | null;
  /** JSON-RPC id of the request (null for notifications and internal calls). */
  callId: string | number | null;
  job?: Job;
  /** Set by the handler (its domain function): the name of the account it acted on, for the audit label (AuditFacts). */
  auditSubject?: string;
}
