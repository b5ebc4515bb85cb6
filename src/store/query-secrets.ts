// Secret fields and queries (issue 9, "secrets stay secret, whatever the query"). Redacting a
// result by its output names is not enough: `select: [["unixhash", "h"]]` renames the hash, and a
// filter such as `["unixhash", "^", "$6$a"]` or an `order_by` on it answers yes/no questions about
// the value — an oracle that recovers a hash one character at a time. So a session that may not see
// a method's secret fields may not name them anywhere in a query: `findSecretReference` walks the
// raw filters and options exactly as the query engine parses them (same path splitting, same
// `OR` / AND-group shapes, `.$date` suffix, `-` / `nulls_first:` order prefixes, select aliases)
// and reports the secret field a reference reaches.

import { parseOrderKey, splitPath } from "./query-filters.js";

/** Filters nest at most this deep in the engine (query-filters.ts MAX_DEPTH); deeper is refused there. */
const MAX_WALK_DEPTH = 20;

export interface SecretSet {
  /** Secret fields without a dot: the common case, checked by one Set lookup. */
  top: ReadonlySet<string>;
  /** Dotted secret fields (e.g. `twofactor_config.provisioning_uri`), as path segments. */
  nested: { name: string; path: string[] }[];
  /** Their first segments: a reference without a dot reaches one only by naming its parent (or by a wildcard). */
  nestedHeads: ReadonlySet<string>;
}

const compiled = new WeakMap<readonly string[], SecretSet>();

/** The compiled form of a method's secret fields (memoised per array; keep it to skip the lookup). */
export function secretSet(fields: readonly string[]): SecretSet {
  let s = compiled.get(fields);
  if (!s) {
    const nested = fields.filter((f) => f.includes(".")).map((name) => ({ name, path: splitPath(name) }));
    s = { top: new Set(fields.filter((f) => !f.includes("."))), nested, nestedHeads: new Set(nested.map((n) => n.path[0]!)) };
    compiled.set(fields, s);
  }
  return s;
}

/** A reference segment matches any secret segment when it is a list wildcard or index. */
const anySegment = (seg: string): boolean => seg === "*" || /^[0-9]+$/.test(seg);

/**
 * The secret field a reference path reaches, or null. A reference reaches a secret when one is a
 * prefix of the other: `unixhash.x` reads inside it (a scalar met early is the value itself) and a
 * parent such as `twofactor_config` contains it.
 */
function secretOfPath(set: SecretSet, raw: string): string | null {
  if (!raw.includes(".") && !raw.includes("\\")) {
    if (set.top.has(raw)) return raw;
    // One segment, as splitPath would give it: it reaches a nested secret only as its parent or a wildcard.
    if (!set.nestedHeads.has(raw) && !anySegment(raw)) return null;
  }
  return secretOfSegments(set, splitPath(raw));
}

function secretOfSegments(set: SecretSet, path: string[]): string | null {
  if (set.top.has(path[0]!)) return path[0]!;
  for (const s of set.nested) {
    const n = Math.min(s.path.length, path.length);
    let same = true;
    for (let i = 0; i < n && same; i++) same = path[i] === s.path[i] || anySegment(path[i]!);
    if (same) return s.name;
  }
  return null;
}

/** Mirrors query-filters.ts parseOne: `[field, op, value]` leaves and `["OR", [branches]]`. */
function walkFilter(set: SecretSet, f: unknown, depth: number): string | null {
  if (!Array.isArray(f) || depth > MAX_WALK_DEPTH) return null;
  if (f.length === 3) return typeof f[0] === "string" ? secretOfPath(set, f[0]) : null;
  if (f.length !== 2 || f[0] !== "OR" || !Array.isArray(f[1])) return null;
  for (const branch of f[1] as unknown[]) {
    if (!Array.isArray(branch) || !branch.length) continue;
    // A branch whose first element is itself a list is an AND group, otherwise a single filter.
    const members = Array.isArray(branch[0]) ? branch : [branch];
    for (const m of members) {
      const hit = walkFilter(set, m, depth + 1);
      if (hit) return hit;
    }
  }
  return null;
}

/**
 * The first secret field that `filters` or `options` (select, order_by) of a query names, or null.
 * Malformed parts are skipped: the engine refuses them anyway, after this check.
 */
export function findSecretReference(fields: readonly string[] | SecretSet, filters: unknown, options: unknown): string | null {
  const set = Array.isArray(fields) ? secretSet(fields) : (fields as SecretSet);
  if (Array.isArray(filters)) {
    for (const f of filters) {
      const hit = walkFilter(set, f, 0);
      if (hit) return hit;
    }
  }
  if (options && typeof options === "object" && !Array.isArray(options)) {
    const { select, order_by: orderBy } = options as { select?: unknown; order_by?: unknown };
    if (Array.isArray(select)) {
      for (const item of select) {
        // `[source, alias]`: the source decides, whatever the alias.
        const src = typeof item === "string" ? item : Array.isArray(item) && typeof item[0] === "string" ? item[0] : null;
        const hit = src === null ? null : secretOfPath(set, src);
        if (hit) return hit;
      }
    }
    if (Array.isArray(orderBy)) {
      for (const key of orderBy) {
        if (typeof key !== "string") continue;
        const hit = secretOfSegments(set, parseOrderKey(key).path);
        if (hit) return hit;
      }
    }
  }
  return null;
}
