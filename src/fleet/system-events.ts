// Who receives a `fleet.system.query` event: administrators and FLEET_READ holders every one; a
// fleet user only those of systems it has access to at the moment of delivery, with its own access
// in the fields. A removal carries only the id and reaches every subscriber (the system is gone;
// its id tells nothing).

import type { Session } from "../auth/session.js";
import type { Tx } from "../store/db.js";
import type { EventPayload } from "../server/events.js";
import { effectiveAccess, subjectOfSession } from "./effective-access.js";

export async function systemEventFor(db: Tx, session: Session, payload: EventPayload): Promise<EventPayload | null> {
  if (payload.msg === "removed" || typeof payload.id !== "number") return payload;
  const subject = subjectOfSession(session);
  const fields = payload.fields && typeof payload.fields === "object" ? (payload.fields as Record<string, unknown>) : {};
  if (subject.admin) return { ...payload, fields: { ...fields, access: "READ_WRITE" } };
  const d = await effectiveAccess(db, subject, payload.id);
  if (d.access === "NONE" && !session.roles.has("FLEET_READ")) return null;
  return { ...payload, fields: { ...fields, access: d.access } };
}
