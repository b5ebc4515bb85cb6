// METHOD_CALL audit entries (reference §10), written by the dispatcher for every method with an
// audit label. Parameters are stored redacted by the method's declared secret arguments (then by
// well-known key names). Unauthenticated calls get a per-address budget and bounded parameters
// (writeAudit bounds every entry without a session), so anonymous callers cannot fill the log.

import type { Connection } from "../server/connection.js";
import type { Session } from "../auth/session.js";
import { anonymousAuditBudget, redactParams, writeAudit, type AuditContext } from "./audit.js";
import { redactCallParams, type MethodLookup } from "./secret-args.js";

/** What auditing a call needs: the audit log and the methods' declared secret arguments. */
export interface MethodCallAuditContext extends AuditContext {
  readonly registry: MethodLookup;
}

export async function auditMethodCall(
  app: MethodCallAuditContext,
  conn: Connection,
  session: Session | null,
  name: string,
  params: unknown[],
  label: string,
  authorized: boolean,
  success: boolean,
): Promise<void> {
  if (!session) {
    const budget = await anonymousAuditBudget(app, conn);
    if (budget === "no") return;
    if (budget === "note") {
      await writeAudit(app, {
        event: "METHOD_CALL",
        eventData: {
          method: name,
          params: [],
          description: "Unauthenticated calls from this address exceed the audit budget: further ones are not audited this minute",
          authenticated: false,
          authorized: false,
        },
        success: false,
        conn,
        session,
      });
      return;
    }
  }
  const def = app.registry.get(name);
  await writeAudit(app, {
    event: "METHOD_CALL",
    eventData: { method: name, params: def ? redactCallParams(app.registry, def, params) : redactParams(params), description: label, authenticated: !!session, authorized },
    success,
    conn,
    session,
  });
}
