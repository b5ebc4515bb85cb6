// Query engine entry point (reference §8.5): `<ns>.query(filters, options)` semantics.
// Filters live in query-filters.ts, SQL push-down in query-sql.ts; this file handles options.
//
// Deliberate differences from the appliance's Python `filter_list`, chosen for predictability
// and so that SQL and in-memory paths agree:
//  * order_by: the first key is the most significant (as in SQL and the appliance's datastore;
//    Python's in-memory path re-sorts per key, making the last key most significant);
//  * a plain order key on a field containing nulls sorts nulls first ascending / last descending
//    instead of raising;
//  * rows are sorted and paged before `select` is applied (Python selects first).

import { CallError, ValidationErrors, validationError } from "../server/errors.js";
import { asciiLower, compareForSort, type OrderKey, isPlainObject, parseOrderKey, splitPath, valueAtPath } from "./query-filters.js";

export {
  type Filter,
  type FilterLeaf,
  type FilterOr,
  type FilterOp,
  type OrderKey,
  FILTER_OPS,
  filterFields,
  isOrFilter,
  matchRow,
  parseFilters,
  parseIsoDatetime,
  parseOrderKey,
  pythonRegexToJs,
  PyRegexError,
} from "./query-filters.js";
export {
  type ColumnKind,
  type ColumnMap,
  type CompiledFilters,
  type Dialect,
  compileFilters,
  compileOrderBy,
  registerSqliteFunctions,
  sqliteRegexpFunction,
} from "./query-sql.js";

export const MAX_LIMIT = 10000;

export type SelectItem = string | [string, string];

export interface QueryOptions {
  order_by: string[];
  /** null when no projection was requested (an empty list means the same). */
  select: SelectItem[] | null;
  count: boolean;
  get: boolean;
  offset: number;
  limit: number;
  extra: Record<string, unknown>;
  force_sql_filters: boolean;
}

export function defaultQueryOptions(): QueryOptions {
  return { order_by: [], select: null, count: false, get: false, offset: 0, limit: 0, extra: {}, force_sql_filters: false };
}

export function parseOptions(raw: unknown, attr = "options"): QueryOptions {
  const opts = defaultQueryOptions();
  if (raw === undefined || raw === null) return opts;
  if (!isPlainObject(raw)) validationError(attr, "Input should be a valid dictionary", "query.invalid_options");
  // No options (a lookup's, on every call): the defaults, without the checkers below.
  if (Object.keys(raw).length === 0) return opts;
  const errors = new ValidationErrors();
  const err = (key: string, msg: string): void => void errors.add(`${attr}.${key}`, msg, "query.invalid_options");
  const bool = (key: "count" | "get" | "force_sql_filters", v: unknown): void => {
    if (typeof v === "boolean") opts[key] = v;
    else err(key, "Input should be a valid boolean");
  };
  const int = (key: "offset" | "limit", v: unknown): void => {
    if (typeof v !== "number" || !Number.isInteger(v)) err(key, "Input should be a valid integer");
    else if (v < 0) err(key, "Input should be greater than or equal to 0");
    else if (key === "limit" && v > MAX_LIMIT) err(key, `Options limit must be between 1 and ${MAX_LIMIT}`);
    else opts[key] = v;
  };

  for (const [key, v] of Object.entries(raw)) {
    switch (key) {
      case "count":
      case "get":
      case "force_sql_filters":
        bool(key, v);
        break;
      case "offset":
      case "limit":
        int(key, v);
        break;
      case "extra":
        if (isPlainObject(v)) opts.extra = v;
        else err(key, "Input should be a valid dictionary");
        break;
      case "order_by":
        if (!Array.isArray(v)) err(key, "Input should be a valid list");
        // Bounded input: SQLite refuses more ORDER BY terms than its column limit (an internal
        // error, EFAULT); no sort needs more keys than a row has fields.
        else if (v.length > MAX_ORDER_KEYS) err(key, `At most ${MAX_ORDER_KEYS} sort keys`);
        else if (v.every((o, i) => typeof o === "string" || void err(`${key}.${i}`, "Input should be a valid string"))) {
          opts.order_by = v as string[];
        }
        break;
      case "select":
        if (!Array.isArray(v)) err(key, "Input should be a valid list");
        else if (v.length > MAX_SELECT_ITEMS) err(key, `At most ${MAX_SELECT_ITEMS} selected fields`);
        else if (v.every((s, i) => selectItemError(s) === null || void err(`${key}.${i}`, selectItemError(s)!))) {
          opts.select = v.length ? (v as SelectItem[]) : null;
        }
        break;
      default:
        err(key, "Extra inputs are not permitted");
    }
  }
  if (opts.get && (opts.limit > 1 || opts.offset > 0)) {
    errors.add(attr, "Invalid options combination. `get` implies a single result.", "query.invalid_options");
  }
  errors.check();
  return opts;
}

/** Bounds on query-options lists (beyond the reference, which has none). */
export const MAX_ORDER_KEYS = 64;
export const MAX_SELECT_ITEMS = 256;

function selectItemError(s: unknown): string | null {
  if (typeof s === "string") return null;
  if (!Array.isArray(s)) {
    return "selectors must be either a parameter name as a string or a list containing two items [<parameter name>, <as name>] to emulate SELECT <parameter name> AS <as name>.";
  }
  if (s.length !== 2) {
    return "A select as list may only contain two parameters: the name of the parameter being selected, and the name to which to assign it in resulting data.";
  }
  const bad = s.findIndex((x) => typeof x !== "string");
  return bad < 0 ? null : `${bad === 0 ? "first" : "second"} item must be a string.`;
}

/**
 * Apply options to already-filtered rows. `sorted`/`paged` say the database already applied
 * order_by / offset+limit. `count` counts every row given (so do not page in SQL for it).
 * Returns a number (count), one row (get) or a list.
 */
export function applyOptions<T>(rows: T[], opts: QueryOptions, { sorted = false, paged = false }: { sorted?: boolean; paged?: boolean } = {}): unknown {
  if (opts.count) return rows.length;
  let out = sorted || !opts.order_by.length ? rows : sortRows(rows, opts.order_by);
  const project = (row: T): unknown => (opts.select ? selectFields(row, opts.select) : row);
  if (opts.get) {
    if (!out.length) throw new CallError("MatchNotFound()", "query.match_not_found");
    return project(out[0]);
  }
  if (!paged) {
    if (opts.offset) out = out.slice(opts.offset);
    if (opts.limit) out = out.slice(0, opts.limit);
  }
  return opts.select ? out.map(project) : out;
}

/** Stable sort by order_by keys, first key most significant (see parseOrderKey for nulls). */
export function sortRows<T>(rows: T[], orderBy: string[]): T[] {
  const keys = orderBy.map(parseOrderKey);
  const value = (row: T, k: OrderKey): unknown => {
    const v = valueAtPath(row, k.path);
    return k.ci && typeof v === "string" ? asciiLower(v) : v;
  };
  const decorated = rows.map((row, idx) => ({ row, idx, vals: keys.map((k) => value(row, k)) }));
  decorated.sort((a, b) => {
    for (let i = 0; i < keys.length; i++) {
      const x = a.vals[i];
      const y = b.vals[i];
      const xNull = x === null || x === undefined;
      const yNull = y === null || y === undefined;
      let c: number;
      if (xNull || yNull) c = xNull === yNull ? 0 : xNull === keys[i].nullsFirst ? -1 : 1;
      else c = keys[i].desc ? -compareForSort(x, y) : compareForSort(x, y);
      if (c) return c;
    }
    return a.idx - b.idx;
  });
  return decorated.map((d) => d.row);
}

/**
 * Python `do_select`: a dotted path builds nested objects, `[src, alias]` stores under `alias`,
 * paths that do not exist are left out.
 */
export function selectFields(row: unknown, select: SelectItem[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of select) {
    const [src, alias] = typeof item === "string" ? [item, null] : item;
    const found = selectPath(row, src);
    if (!found) continue;
    const { keys, value } = found;
    if (alias !== null) {
      out[alias] = value;
      continue;
    }
    let obj = out;
    for (const k of keys.slice(0, -1)) {
      // Copy rather than descend into an object taken from the row, which must not be mutated.
      const next: Record<string, unknown> = isPlainObject(obj[k]) ? { ...(obj[k] as Record<string, unknown>) } : {};
      obj[k] = next;
      obj = next;
    }
    obj[keys[keys.length - 1]] = value;
  }
  return out;
}

function selectPath(row: unknown, src: string): { keys: string[]; value: unknown } | null {
  const keys: string[] = [];
  let cur: unknown = row;
  for (const seg of splitPath(src)) {
    if (Array.isArray(cur)) return null; // the appliance rejects selecting through lists
    if (!isPlainObject(cur)) continue; // like Python, a scalar met early is selected as is
    if (!Object.hasOwn(cur, seg) || cur[seg] === undefined) return null;
    cur = cur[seg];
    keys.push(seg);
  }
  return keys.length ? { keys, value: cur } : null;
}
