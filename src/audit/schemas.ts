// Result schema of an audit entry (audit.query), declared once.

import { z } from "zod";
import { entity, timestamp } from "../server/wire-schema.js";

export const AuditEntrySchema = entity("AuditEntry", "An audit log entry (AUTHENTICATION, LOGOUT or METHOD_CALL of the MIDDLEWARE service).", {
  audit_id: z.string().describe("Unique id (UUID)."),
  message_timestamp: z.number().int().describe("Seconds since the epoch."),
  timestamp: timestamp.describe("When it happened."),
  address: z.string().describe("Client address."),
  username: z.string().describe("Account that acted (or tried to)."),
  session: z.string().nullable().describe("Session id."),
  service: z.string().describe("MIDDLEWARE, SMB, SUDO or SYSTEM."),
  service_data: z.unknown().describe("Service details (origin, protocol, credentials)."),
  event: z.string().describe("AUTHENTICATION, LOGOUT, METHOD_CALL, ..."),
  event_data: z.unknown().describe("Event details (method, redacted params, description, authorized)."),
  success: z.boolean().describe("The action succeeded."),
});
