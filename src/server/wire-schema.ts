// Building blocks of result schemas (src/api/**: `returns`). A result schema describes the value a
// handler returns, before extended-JSON encoding: times are Dates ({"$date": ms} on the wire), sets
// are WireSets ({"$set": [...]} on the wire, an array once decoded). `jsonSchemaOf` publishes a
// schema as JSON Schema of the wire form (core.get_methods, docs/api.md, web/src/api-types.ts).

import { z } from "zod";
import { WireSet } from "./ejson.js";

/** What a secret field carries for a session that may not see it (see rpc.ts redactResult). */
export const REDACTED_VALUE = "********";

/** A point in time: a Date in the server, `{"$date": ms}` on the wire. */
export const timestamp = z.date();

/**
 * The value a handler builds for `schema` (its output type), with the "********" that redactable
 * fields may carry on the wire taken out: handlers return the real values and the dispatcher
 * redacts afterwards (rpc.ts redactResult), so the entity types the services use derive from the
 * result schemas here instead of being written a second time by hand.
 */
export type Built<S extends z.ZodType> = { [K in keyof z.output<S>]: Exclude<z.output<S>[K], typeof REDACTED_VALUE> };

/** `schema`, or "********" when the session may not see the field. */
export function redactable<S extends z.ZodType>(schema: S) {
  return z.union([schema, z.literal(REDACTED_VALUE)]);
}

/** A set: a WireSet in the server (`{"$set": [...]}` on the wire), an array once decoded. */
export function wireSet<S extends z.ZodType>(item: S) {
  return z.preprocess((v) => (v instanceof WireSet ? v.items : v), z.array(item)).describe('A set: {"$set": [...]} on the wire.');
}

/** An entity: an object schema with a name (a shared definition in JSON Schema and TypeScript). */
export function entity<Shape extends z.ZodRawShape>(id: string, description: string, shape: Shape) {
  return z.object(shape).meta({ id, description });
}

const selectedOf = new WeakMap<z.ZodObject, z.ZodObject>();

/** Every field optional, nested objects too (select may name `group.bsdgrp_gid` alone). */
function partialDeep(entry: z.ZodObject): z.ZodObject {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, field] of Object.entries(entry.shape as Record<string, z.ZodType>)) {
    shape[key] = (field instanceof z.ZodObject ? partialDeep(field) : field).optional();
  }
  // Loose: an alias (select [field, alias]) adds a field of its own.
  return z.looseObject(shape);
}

/**
 * `entry` with only the fields query-options.select asked for: each field present still has its
 * type; aliases add fields of their own. One schema per entry (a shared definition).
 */
export function selectedEntry(entry: z.ZodObject): z.ZodObject {
  let selected = selectedOf.get(entry);
  if (!selected) {
    const id = (z.globalRegistry.get(entry) as { id?: string } | undefined)?.id;
    const description = "An entry with the selected fields only (query-options.select).";
    selected = partialDeep(entry).meta(id ? { id: `${id}Selected`, description } : { description });
    selectedOf.set(entry, selected);
  }
  return selected;
}

/** The result of a `*.query` method: entries, one entry (`get`), a count (`count`), or selected fields. */
export function queryResult(entry: z.ZodObject) {
  const selected = selectedEntry(entry);
  return z.union([z.array(entry), entry, z.number().int().min(0).describe("The number of matching entries (query-options.count)."), z.array(selected), selected]);
}

/** The result of a `*.get_instance` method that honours query-options.select. */
export function instanceResult(entry: z.ZodObject) {
  return z.union([entry, selectedEntry(entry)]);
}

/** The JSON Schema (draft 2020-12) of `schema`'s wire form; `io: "input"` for argument schemas. */
export function jsonSchemaOf(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  return z.toJSONSchema(schema, {
    io,
    unrepresentable: "any",
    override: (ctx) => {
      if ((ctx.zodSchema as { _zod: { def: { type: string } } })._zod.def.type !== "date") return;
      const js = ctx.jsonSchema as Record<string, unknown>;
      for (const k of Object.keys(js)) if (k !== "description") delete js[k];
      Object.assign(js, { type: "object", properties: { $date: { type: "integer", description: "milliseconds since the epoch" } }, required: ["$date"], additionalProperties: false });
    },
  }) as Record<string, unknown>;
}
