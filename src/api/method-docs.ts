// A method's published description: what core.get_methods answers and what docs/api.md and
// web/src/api-types.ts are generated from (scripts/gen-api-docs.ts) — one source for all three.

import { z } from "zod";
import type { MethodDef } from "./method.js";
import { jsonSchemaOf } from "../server/wire-schema.js";
import { RawWire, stringifyWire } from "../server/ejson.js";

export interface MethodDoc {
  description: string;
  roles: readonly string[];
  owner: MethodDef["owner"];
  require_authentication: boolean;
  require_authorization: boolean;
  audit: string | null;
  job: boolean;
  secret_args: readonly string[];
  secret_fields: readonly string[];
  /** One JSON Schema per positional argument (input form), with `_name_` and `_required_`. */
  accepts: Record<string, unknown>[];
  /** JSON Schema of the result (wire form). */
  returns: Record<string, unknown>;
}

export const MethodDocSchema = z
  .object({
    description: z.string().describe("What the method does."),
    roles: z.array(z.string()).describe("Roles that may call it (any one; empty: FULL_ADMIN only)."),
    owner: z
      .enum(["any", "self", "self-or-role", "own-rows-or-role"])
      .describe("Ownership rule: any, self, self-or-role (own account without a role), or own-rows-or-role (a listing: own rows without a role)."),
    require_authentication: z.boolean().describe("Needs a logged-in session."),
    require_authorization: z.boolean().describe("Needs one of the roles."),
    audit: z.string().nullable().describe('Audit label ("dynamic" when computed from the arguments), null when unaudited.'),
    job: z.boolean().describe("Runs as a job."),
    secret_args: z.array(z.string()).describe("Secret arguments (redacted in audit, logs and jobs)."),
    secret_fields: z.array(z.string()).describe('Result fields shown as "********" to sessions that may not see secrets.'),
    accepts: z.array(z.record(z.string(), z.unknown())).describe("JSON Schema of each positional argument (_name_, _required_)."),
    returns: z.record(z.string(), z.unknown()).describe("JSON Schema of the result."),
  })
  .meta({ id: "MethodDoc", description: "A method's published description (core.get_methods)." });

const docs = new WeakMap<MethodDef, MethodDoc>();

/** `def` described; computed once per method (schemas do not change while the process runs). */
export function methodDoc(def: MethodDef): MethodDoc {
  let doc = docs.get(def);
  if (!doc) {
    doc = {
      description: def.description,
      roles: def.roles,
      owner: def.owner,
      require_authentication: def.authenticationRequired,
      require_authorization: def.authorizationRequired,
      audit: typeof def.audit === "string" ? def.audit : def.audit ? "dynamic" : null,
      job: !!def.job,
      secret_args: def.secretArgs,
      secret_fields: def.secretFields ?? [],
      accepts: def.args.map((a) => ({ _name_: a.name, _required_: !a.default, ...jsonSchemaOf(a.schema, "input") })),
      returns: jsonSchemaOf(def.returns, "output"),
    };
    docs.set(def, doc);
  }
  return doc;
}

/** Encoded listings by the names they list (a few role sets in practice; the oldest goes past 64). */
const listings = new Map<string, RawWire>();
const MAX_LISTINGS = 64;

/**
 * core.get_methods' answer for these methods, as wire text. An administrator's listing is about
 * 290 kB of JSON Schema; the web UI asks for it on every page load, and encoding it again each
 * time cost more than the rest of the sign-in. Methods and their docs do not change while the
 * process runs, so one set of names always encodes to the same text.
 */
export function methodListing(defs: readonly MethodDef[]): RawWire {
  const key = defs.map((d) => d.name).join(",");
  let listing = listings.get(key);
  if (!listing) {
    const out: Record<string, MethodDoc> = {};
    for (const def of defs) out[def.name] = methodDoc(def);
    listing = new RawWire(stringifyWire(out));
    if (listings.size >= MAX_LISTINGS) listings.delete(listings.keys().next().value as string);
    listings.set(key, listing);
  }
  return listing;
}
