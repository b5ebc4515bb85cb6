// Schemas of the fleet system methods (fleet.system.*): the entry, its status, and the inputs.

import { z } from "zod";
import { entity, timestamp } from "../server/wire-schema.js";
import { renderableText } from "../server/input-bounds.js";

export const SYSTEM_SECRET_FIELDS = ["api_key", "read_api_key"] as const;
/** What an entry shows in place of a key (keys are never returned, to anyone). */
export const KEY_PLACEHOLDER = "********";

export const FleetSystemStatusSchema = entity("FleetSystemStatus", "The last observed status of a managed system.", {
  id: z.number().int().describe("The system's id."),
  reachable: z.boolean().describe("The last attempt connected and logged in."),
  version: z.string().nullable().describe("The system's version (system.version), when it tells."),
  latency_ms: z.number().nullable().describe("Round trip of one call, in milliseconds."),
  error: z.string().nullable().describe('The last failure, in words (e.g. "key refused: invalid API key"); null when reachable.'),
  error_code: z.string().nullable().describe("The last failure's stable code (fleet.system_unreachable, fleet.system_tls, fleet.system_key_refused, ...)."),
  checked_at: timestamp.nullable().describe("When the status was observed; null: never."),
});

export const FleetSystemSchema = entity("FleetSystem", "A managed system (another Gatehouse or a compatible appliance).", {
  id: z.number().int(),
  name: z.string(),
  url: z.string().describe("ws:// (loopback only) or wss:// URL of the system's /api/current."),
  username: z.string().describe("Owner of the API keys on the system (empty: found from the key)."),
  api_key: z.literal(KEY_PLACEHOLDER).describe("Never returned: sealed at rest, replaceable."),
  read_api_key: z.literal(KEY_PLACEHOLDER).nullable().describe("A read-only key on the system (READ callers go through it); never returned, null when not set."),
  verify_ssl: z.boolean(),
  ca: z.number().int().nullable().describe("Certificate authority (certificateauthority.query id) that verifies the system's certificate."),
  groups: z.array(z.number().int()).describe("System groups containing the system."),
  access: z.enum(["NONE", "READ", "READ_WRITE"]).describe("The caller's effective access to the system (NONE: listed for a fleet reader without access)."),
  status: FleetSystemStatusSchema,
  created_at: timestamp,
  updated_at: timestamp,
});
export type FleetSystemEntry = z.infer<typeof FleetSystemSchema>;
export type FleetSystemStatus = z.infer<typeof FleetSystemStatusSchema>;

const keyText = z.string().min(1).max(1024);
const common = {
  url: z.string().min(1).max(2048),
  username: z
    .string()
    .max(128)
    .regex(/^[^,=\s]*$/, "No commas, equal signs or spaces"),
  api_key: keyText,
  read_api_key: keyText.nullable(),
  verify_ssl: z.boolean(),
  ca: z.number().int().nullable(),
  groups: z.array(z.number().int()).max(1000),
  /** Save even when the connection test fails. */
  force: z.boolean(),
};

export const SystemCreateSchema = z.strictObject({
  name: renderableText(1, 120),
  url: common.url,
  username: common.username.default(""),
  api_key: common.api_key,
  read_api_key: common.read_api_key.default(null),
  verify_ssl: common.verify_ssl.default(true),
  ca: common.ca.default(null),
  groups: common.groups.default([]),
  force: common.force.default(false),
});
export type SystemCreate = z.output<typeof SystemCreateSchema>;

export const SystemUpdateSchema = z.strictObject({
  name: renderableText(1, 120).optional(),
  url: common.url.optional(),
  username: common.username.optional(),
  api_key: common.api_key.optional(),
  read_api_key: common.read_api_key.optional(),
  verify_ssl: common.verify_ssl.optional(),
  ca: common.ca.optional(),
  groups: common.groups.optional(),
  force: common.force.default(false),
});
export type SystemUpdate = z.output<typeof SystemUpdateSchema>;
