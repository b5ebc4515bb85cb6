// Query filters (reference §8.5): parsing/validation and in-memory evaluation with the semantics
// of the appliance's Python `filter_list`. The SQL compiler in query-sql.ts must agree with
// `matchRow` exactly, so every Python quirk that matters is implemented here once.

import { ValidationErrors, validationError } from "../server/errors.js";

export const FILTER_OPS = ["=", "!=", ">", ">=", "<", "<=", "~", "in", "nin", "rin", "rnin", "^", "!^", "$", "!$"] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

/** One `[field, op, value]` condition. `op` has its `C` prefix removed; `ci` remembers it. */
export interface FilterLeaf {
  path: string[];
  op: FilterOp;
  value: unknown;
  ci: boolean;
  /** `~` only: the compiled pattern (anchored at the start, like `re.match`). */
  regex?: RegExp;
}
/** `["OR", [...]]`: true when any branch (an AND group) is entirely true. */
export interface FilterOr {
  or: Filter[][];
}
export type Filter = FilterLeaf | FilterOr;

export function isOrFilter(f: Filter): f is FilterOr {
  return "or" in f;
}

const OPS = new Set<string>(FILTER_OPS);
const DATE_SUFFIX = ".$date";
const DATE_OPS = new Set(["=", "!=", ">", ">=", "<", "<="]);
// The appliance allows 3 levels; we are more generous but still bound recursion on untrusted input.
const MAX_DEPTH = 16;
/**
 * Conditions (leaves and OR nodes) in one call's filters. SQL engines bound expression depth
 * (SQLite: 1000), and `a AND b AND …` nests one level per term: without this a wide filter list
 * failed as an internal error (EFAULT) instead of a validation error. No real query comes close.
 */
export const MAX_FILTER_TERMS = 256;

class FilterError extends Error {}

// ------------------------------------------------------------------------------------------------
// Parsing

export function parseFilters(raw: unknown, attr = "filters"): Filter[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) validationError(attr, "Input should be a valid list", "query.invalid_filters");
  // Made only for an error: most calls have none (a lookup's filters parse on every call).
  let errors: ValidationErrors | null = null;
  const out: Filter[] = [];
  const budget = { left: MAX_FILTER_TERMS };
  for (let i = 0; i < raw.length; i++) {
    if (budget.left < 0) break; // reported once, on the filter that went over
    if (!(i in raw)) continue; // a hole, skipped as forEach does
    try {
      out.push(parseOne(raw[i], 0, budget));
    } catch (e) {
      if (!(e instanceof FilterError)) throw e;
      (errors ??= new ValidationErrors()).add(`${attr}.${i}`, e.message, "query.invalid_filters");
    }
  }
  errors?.check();
  return out;
}

function parseOne(f: unknown, depth: number, budget: { left: number }): Filter {
  if (!Array.isArray(f)) throw new FilterError("Invalid filter");
  if (--budget.left < 0) throw new FilterError(`query-filters: too many conditions (at most ${MAX_FILTER_TERMS})`);
  if (f.length === 2) {
    const [op, branches] = f;
    if (op !== "OR") throw new FilterError(`Invalid operator: ${describe(op)}`);
    if (depth >= MAX_DEPTH) throw new FilterError("query-filters max recursion depth exceeded");
    if (!Array.isArray(branches) || branches.length === 0) throw new FilterError("OR filter requires at least one branch.");
    return {
      or: branches.map((b: unknown) => {
        if (!Array.isArray(b) || b.length === 0) throw new FilterError("Invalid filter");
        // A branch whose first element is itself a list is an AND group, otherwise a single filter.
        return Array.isArray(b[0]) ? b.map((x: unknown) => parseOne(x, depth + 1, budget)) : [parseOne(b, depth + 1, budget)];
      }),
    };
  }
  if (f.length !== 3) throw new FilterError("Invalid filter");
  const [field, rawOp, rawValue] = f;
  if (typeof field !== "string" || field === "") throw new FilterError("Invalid filter");
  if (typeof rawOp !== "string") throw new FilterError(`Invalid operator: ${describe(rawOp)}`);
  const ci = rawOp.startsWith("C");
  const op = ci ? rawOp.slice(1) : rawOp;
  if (!OPS.has(op)) throw new FilterError(`Invalid operator: ${rawOp}`);

  let name = field;
  let value = rawValue;
  if (field.endsWith(DATE_SUFFIX)) {
    if (!DATE_OPS.has(rawOp)) throw new FilterError(`${rawOp}: invalid timestamp operation.`);
    const ms = typeof value === "string" ? parseIsoDatetime(value) : null;
    if (ms === null) throw new FilterError(`${describe(value)}: must be an ISO-8601 formatted timestamp string`);
    name = field.slice(0, -DATE_SUFFIX.length);
    if (name === "") throw new FilterError("Invalid filter");
    // Kept as (possibly fractional) epoch ms: comparisons normalise every datetime form to ms.
    value = ms;
  }
  const leaf: FilterLeaf = { path: splitPath(name), op: op as FilterOp, value, ci };
  if ((op === "in" || op === "nin") && !Array.isArray(value)) {
    throw new FilterError(`Invalid filter: value of "${rawOp}" must be a list`);
  }
  if (op === "~") {
    if (typeof value !== "string") throw new FilterError("Invalid regular expression: pattern must be a string");
    try {
      leaf.regex = pythonRegexToJs(ci ? `(?i)${value}` : value);
    } catch (e) {
      throw new FilterError(`Invalid regular expression: ${(e as Error).message}`);
    }
  }
  return leaf;
}

function describe(v: unknown): string {
  return typeof v === "string" ? v : (JSON.stringify(v) ?? String(v));
}

/** Dots separate path segments; `\.` is a literal dot (Python `partition` semantics). */
export function splitPath(s: string): string[] {
  const segs: string[] = [];
  let cur = "";
  for (const ch of s) {
    if (ch !== ".") cur += ch;
    else if (cur.endsWith("\\")) cur = cur.slice(0, -1) + ".";
    else {
      segs.push(cur);
      cur = "";
    }
  }
  segs.push(cur);
  return segs;
}

/** Top-level entry fields a filter list refers to, for the caller's unknown-field check. */
export function filterFields(filters: Filter[]): string[] {
  const seen = new Set<string>();
  const walk = (f: Filter): void => {
    if (isOrFilter(f)) f.or.forEach((g) => g.forEach(walk));
    else seen.add(f.path[0]);
  };
  filters.forEach(walk);
  return [...seen];
}

// Python 3.11 `datetime.fromisoformat`, the common shapes. Naive times are taken as UTC, which is
// how the server stores every timestamp.
const ISO_RE = /^(\d{4})(?:-(\d{2})-(\d{2})|(\d{2})(\d{2}))(?:[^\d](\d{2})(?::?(\d{2})(?::?(\d{2})(?:[.,](\d+))?)?)?(Z|[+-]\d{2}(?::?\d{2}(?::?\d{2}(?:\.\d+)?)?)?)?)?$/i;

export function parseIsoDatetime(s: string): number | null {
  const m = ISO_RE.exec(s);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2] ?? m[4]), Number(m[3] ?? m[5])];
  const [h, mi, sec] = [Number(m[6] ?? 0), Number(m[7] ?? 0), Number(m[8] ?? 0)];
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59) return null;
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  if (date.getUTCDate() !== d) return null;
  let ms = date.getTime() + ((h * 60 + mi) * 60 + sec) * 1000;
  if (m[9]) ms += Number(`0.${m[9].slice(0, 6)}`) * 1000;
  const tz = m[10];
  if (tz && tz.toUpperCase() !== "Z") {
    const sign = tz[0] === "-" ? -1 : 1;
    const parts = tz.slice(1).replace(/:/g, "");
    const [oh, om, os] = [Number(parts.slice(0, 2)), Number(parts.slice(2, 4) || 0), Number(parts.slice(4) || 0)];
    if (oh > 23 || om > 59 || os >= 60) return null;
    ms -= sign * ((oh * 60 + om) * 60 + os) * 1000;
  }
  return ms;
}

// ------------------------------------------------------------------------------------------------
// Python value semantics

export function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== "object" || x === null || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** Datetimes arrive as Date, extended-JSON `{"$date": ms}` or plain epoch ms: compare them as ms. */
export function normalizeValue(x: unknown): unknown {
  if (x instanceof Date) return x.getTime();
  if (isPlainObject(x)) {
    const keys = Object.keys(x);
    if (keys.length === 1 && keys[0] === "$date" && typeof x.$date === "number") return x.$date;
  }
  return x;
}

const isNumeric = (x: unknown): x is number | boolean => typeof x === "number" || typeof x === "boolean";

/** Python `==` (bool is an int, so `True == 1`). */
export function pyEq(a: unknown, b: unknown): boolean {
  a = normalizeValue(a);
  b = normalizeValue(b);
  if (a === null || a === undefined || b === null || b === undefined) return (a ?? null) === (b ?? null);
  if (isNumeric(a) || isNumeric(b)) return isNumeric(a) && isNumeric(b) && Number(a) === Number(b);
  if (typeof a === "string" || typeof b === "string") return a === b;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => pyEq(x, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && pyEq(a[k], b[k]));
  }
  return a === b;
}

/** Python ordering; `undefined` where Python raises TypeError (e.g. anything against None). */
export function pyCmp(a: unknown, b: unknown): -1 | 0 | 1 | undefined {
  a = normalizeValue(a);
  b = normalizeValue(b);
  if (isNumeric(a) && isNumeric(b)) {
    const x = Number(a);
    const y = Number(b);
    return x < y ? -1 : x > y ? 1 : x === y ? 0 : undefined;
  }
  if (typeof a === "string" && typeof b === "string") return cmpCodePoints(a, b);
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) if (!pyEq(a[i], b[i])) return pyCmp(a[i], b[i]);
    return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
  }
  return undefined;
}

/** Python (and SQLite BINARY / PostgreSQL "C") compare strings by code point, not UTF-16 unit. */
export function cmpCodePoints(a: string, b: string): -1 | 0 | 1 {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return surrogateFix(x) < surrogateFix(y) ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}
// Surrogates encode code points above U+FFFF, so they must sort after U+E000..U+FFFF.
const surrogateFix = (u: number): number => (u < 0xd800 ? u : u >= 0xe000 ? u - 0x800 : u + 0x2000);

/** Total order used for sorting: null < numbers/bools/datetimes < strings < lists < objects. */
export function compareForSort(a: unknown, b: unknown): number {
  const ra = sortRank(a);
  const rb = sortRank(b);
  if (ra !== rb) return ra - rb;
  return pyCmp(a, b) ?? 0;
}
function sortRank(x: unknown): number {
  x = normalizeValue(x);
  if (x === null || x === undefined) return 0;
  if (isNumeric(x)) return 1;
  if (typeof x === "string") return 2;
  return Array.isArray(x) ? 3 : 4;
}

/**
 * Approximates Python `str.casefold()` (full case folding: "ß" → "ss", "ς" → "σ"). It is exact for
 * ASCII, which is all the SQL compiler relies on.
 */
export function casefold(s: string): string {
  return s.toUpperCase().toLowerCase();
}

export const isAscii = (s: string): boolean => /^[\x00-\x7f]*$/.test(s);

// ------------------------------------------------------------------------------------------------
// Path resolution and evaluation

const MISSING = Symbol("missing");
type Resolved = { wild: false; value: unknown } | { wild: true; items: unknown[]; rest: string[] };

/** Python `get_impl`: returns MISSING for absent keys; `*` on a list yields every element. */
export function resolvePath(obj: unknown, path: string[]): Resolved | typeof MISSING {
  let cur: unknown = obj;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    if (isPlainObject(cur)) {
      cur = Object.hasOwn(cur, seg) && cur[seg] !== undefined ? cur[seg] : MISSING;
    } else if (Array.isArray(cur)) {
      if (/^[0-9]+$/.test(seg)) {
        const idx = Number(seg);
        cur = idx < cur.length ? cur[idx] : null;
      } else if (seg === "*") {
        return { wild: true, items: cur, rest: path.slice(i + 1) };
      } else {
        return MISSING;
      }
    }
    // Like Python, a scalar (or null) met before the path ends is returned as is.
  }
  return cur === MISSING ? MISSING : { wild: false, value: cur };
}

/** The value a path selects for sorting; wildcards select the list itself (Python `get`). */
export function valueAtPath(obj: unknown, path: string[]): unknown {
  const r = resolvePath(obj, path);
  if (r === MISSING) return null;
  return r.wild ? r.items : r.value;
}

export interface OrderKey {
  path: string[];
  desc: boolean;
  nullsFirst: boolean;
  /** `:ci` suffix (beyond the reference): strings compare with ASCII letters lowercased. */
  ci: boolean;
}

/** The `:ci` order-key suffix: sort text ignoring the case of ASCII letters (docs/departures.md). */
export const CI_ORDER_SUFFIX = ":ci";

/** ASCII letters lowercased, nothing else: what SQLite's lower() and PostgreSQL's lower(… COLLATE "C") do. */
export function asciiLower(s: string): string {
  return /[A-Z]/.test(s) ? s.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : s;
}

/**
 * `[nulls_first:|nulls_last:][-]field.path[:ci]`. Without a nulls prefix, nulls sort as the smallest
 * value: first ascending, last descending (Python raises instead; SQLite does the same as us).
 */
export function parseOrderKey(raw: string): OrderKey {
  let s = raw;
  const ci = s.endsWith(CI_ORDER_SUFFIX) && s.length > CI_ORDER_SUFFIX.length;
  if (ci) s = s.slice(0, -CI_ORDER_SUFFIX.length);
  let nulls: boolean | undefined;
  if (s.startsWith("nulls_first:")) {
    nulls = true;
    s = s.slice("nulls_first:".length);
  } else if (s.startsWith("nulls_last:")) {
    nulls = false;
    s = s.slice("nulls_last:".length);
  }
  const desc = s.startsWith("-");
  if (desc) s = s.slice(1);
  return { path: splitPath(s), desc, nullsFirst: nulls ?? !desc, ci };
}

export function matchRow(row: unknown, filters: Filter[]): boolean {
  return filters.every((f) => evalFilter(row, f));
}

function evalFilter(row: unknown, f: Filter): boolean {
  if (isOrFilter(f)) return f.or.some((group) => group.every((g) => evalFilter(row, g)));
  return evalLeaf(row, f.path, f);
}

function evalLeaf(obj: unknown, path: string[], leaf: FilterLeaf): boolean {
  const r = resolvePath(obj, path);
  // An absent key never matches, not even `!=`.
  if (r === MISSING) return false;
  if (r.wild) return r.items.some((item) => evalLeaf(item, r.rest, leaf));
  return applyOp(leaf, r.value);
}

function fold(x: unknown): unknown {
  if (typeof x === "string") return casefold(x);
  if (Array.isArray(x)) return x.map((e) => (typeof e === "string" ? casefold(e) : e));
  return x;
}

function applyOp(leaf: FilterLeaf, x: unknown): boolean {
  let v = leaf.value;
  if (leaf.ci && leaf.op !== "~") {
    x = fold(x);
    v = fold(v);
  }
  switch (leaf.op) {
    case "=":
      return pyEq(x, v);
    case "!=":
      return !pyEq(x, v);
    case ">":
      return pyCmp(x, v) === 1;
    case ">=": {
      const c = pyCmp(x, v);
      return c === 1 || c === 0;
    }
    case "<":
      return pyCmp(x, v) === -1;
    case "<=": {
      const c = pyCmp(x, v);
      return c === -1 || c === 0;
    }
    case "~":
      return regexMatches(leaf.regex!, x);
    case "in":
      return (v as unknown[]).some((e) => pyEq(x, e));
    case "nin":
      return x !== null && !(v as unknown[]).some((e) => pyEq(x, e));
    case "rin":
      return x !== null && contains(x, v) === true;
    case "rnin":
      return x !== null && contains(x, v) === false;
    case "^":
      return typeof x === "string" && typeof v === "string" && x.startsWith(v);
    case "!^":
      return typeof x === "string" && typeof v === "string" && !x.startsWith(v);
    case "$":
      return typeof x === "string" && typeof v === "string" && x.endsWith(v);
    case "!$":
      return typeof x === "string" && typeof v === "string" && !x.endsWith(v);
  }
}

/** Python `re.match(p, x or "")`: falsy values become "", other non-strings raise (→ no match). */
export function regexMatches(re: RegExp, x: unknown): boolean {
  const falsy = !x || (Array.isArray(x) && x.length === 0) || (isPlainObject(x) && Object.keys(x).length === 0);
  const s = falsy ? "" : x;
  return typeof s === "string" && re.test(s);
}

/** Python `v in x`; `undefined` where Python raises TypeError. */
function contains(x: unknown, v: unknown): boolean | undefined {
  x = normalizeValue(x); // a {"$date"} wrapper is a datetime, not a dict
  if (typeof x === "string") return typeof v === "string" ? x.includes(v) : undefined;
  if (Array.isArray(x)) return x.some((e) => pyEq(e, v));
  if (isPlainObject(x)) {
    if (typeof v === "string") return Object.hasOwn(x, v);
    return Array.isArray(v) || isPlainObject(v) ? undefined : false;
  }
  return undefined;
}

// ------------------------------------------------------------------------------------------------
// Python regular expressions

export class PyRegexError extends Error {}
/** Thrown by the PostgreSQL translation for syntax outside the subset known to behave identically. */
export class PyRegexUnsupported extends Error {}

export interface TranslatedRegex {
  source: string;
  flags: { i: boolean; m: boolean; s: boolean };
}

// Python's Unicode `\s` (str.isspace) and `\w` (str.isalnum() or "_"), as class contents.
const PY_SPACE = "\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const PY_WORD = "\\p{L}\\p{N}_";
const WORD_BOUNDARY = `(?:(?<=[${PY_WORD}])(?![${PY_WORD}])|(?<![${PY_WORD}])(?=[${PY_WORD}]))`;
const NOT_WORD_BOUNDARY = `(?:(?<=[${PY_WORD}])(?=[${PY_WORD}])|(?<![${PY_WORD}])(?![${PY_WORD}]))`;
const JS_SYNTAX = new Set("^$\\.*+?()[]{}|/");
const LEADING_FLAGS = /^\(\?([a-zA-Z]+)\)/;
const SIMPLE_ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", f: "\f", v: "\v", a: "\x07" };

/**
 * Translate Python `re` syntax for JavaScript (`u` mode) or, with target "pg", for a PostgreSQL
 * ARE subset (throws PyRegexUnsupported outside it). The result is not anchored.
 */
export function translatePyRegex(src: string, target: "js" | "pg"): TranslatedRegex {
  const pg = target === "pg";
  const flags = { i: false, m: false, s: false };
  let i = 0;
  // Python only accepts global flags at the very start of the pattern.
  for (let m = LEADING_FLAGS.exec(src); m; m = LEADING_FLAGS.exec(src.slice(i))) {
    for (const f of m[1]) {
      if (f === "i" || f === "m" || f === "s") flags[f] = true;
      else if (f !== "u") throw new PyRegexError(`unsupported inline flag '${f}'`);
    }
    i += m[0].length;
  }
  const unsupported = (what: string): void => {
    if (pg) throw new PyRegexUnsupported(what);
  };
  if (pg && flags.m) unsupported("multiline");

  let out = "";
  let quantifiable = false; // PostgreSQL rejects quantifiers after anchors, "(", "|" or another quantifier
  let afterQuantifier = false;
  const emit = (s: string, canQuantify: boolean): void => {
    out += s;
    quantifiable = canQuantify;
    afterQuantifier = false;
  };
  const literal = (ch: string): void => emit(pg ? pgLiteral(ch) : JS_SYNTAX.has(ch) ? `\\${ch}` : ch, true);
  const quantifier = (q: string): void => {
    if (pg && afterQuantifier && q === "?") {
      out += q; // lazy modifier: irrelevant for whether a match exists
      afterQuantifier = false;
      return;
    }
    if (pg && !quantifiable) unsupported("quantifier position");
    out += q;
    quantifiable = false;
    afterQuantifier = true;
  };

  while (i < src.length) {
    const ch = String.fromCodePoint(src.codePointAt(i)!);
    i += ch.length;
    if (ch === "\\") {
      const [piece, kind, next] = translateEscape(src, i, pg, false);
      i = next;
      if (kind === "char") literal(piece);
      else if (kind === "anchor") emit(piece, false);
      else emit(piece, true);
    } else if (ch === "[") {
      const [cls, next] = translateClass(src, i, pg, flags.i);
      i = next;
      emit(cls, true);
    } else if (ch === "(") {
      const rest = src.slice(i);
      let m: RegExpExecArray | null;
      if (!rest.startsWith("?")) emit("(", false);
      else if ((m = /^\?P<([^>]*)>/.exec(rest))) {
        emit(pg ? "(" : `(?<${m[1]}>`, false);
        i += m[0].length;
      } else if ((m = /^\?P=([^)]*)\)/.exec(rest))) {
        unsupported("backreference");
        emit(`\\k<${m[1]}>`, true);
        i += m[0].length;
      } else if (rest.startsWith("?:")) {
        emit("(?:", false);
        i += 2;
      } else if ((m = /^\?(?:[=!]|<[=!])/.exec(rest))) {
        unsupported("lookaround");
        emit(`(${m[0]}`, false);
        i += m[0].length;
      } else if (rest.startsWith("?#")) {
        const end = src.indexOf(")", i);
        if (end < 0) throw new PyRegexError("missing ), unterminated comment");
        i = end + 1;
      } else if (/^\?[a-zA-Z-]+\)/.test(rest)) {
        throw new PyRegexError("global flags not at the start of the expression");
      } else if (/^\?[a-zA-Z-]+:/.test(rest)) {
        throw new PyRegexError("scoped inline flags are not supported");
      } else {
        throw new PyRegexError(`unknown extension (${rest.slice(0, 2)}`);
      }
    } else if (ch === ")") {
      emit(")", true);
    } else if (ch === "|") {
      emit("|", false);
    } else if (ch === "^") {
      emit(flags.m ? "(?<![^\\n])" : "^", false);
    } else if (ch === "$") {
      // Python's `$` also matches just before a trailing newline; MULTILINE: before any "\n".
      emit(flags.m ? "(?![^\\n])" : pg ? "(?=\\n?$)" : "(?=\\n?(?![\\s\\S]))", false);
    } else if (ch === ".") {
      // Without DOTALL Python's `.` excludes only "\n" (JavaScript's also excludes "\r", U+2028/9).
      emit(flags.s ? "." : "[^\\n]", true);
    } else if (ch === "*" || ch === "+" || ch === "?") {
      quantifier(ch);
    } else if (ch === "{") {
      const m = /^(\d*)(?:(,)(\d*))?\}/.exec(src.slice(i));
      if (!m || (m[1] === "" && !m[2])) {
        literal("{"); // Python treats a `{` that does not form a repeat as a literal
        continue;
      }
      const lo = m[1] === "" ? 0 : Number(m[1]);
      const hi = m[2] ? (m[3] === "" ? Infinity : Number(m[3])) : lo;
      if (hi < lo) throw new PyRegexError("min repeat greater than max repeat");
      if (pg && Math.max(lo, hi === Infinity ? 0 : hi) > 255) unsupported("large repeat");
      i += m[0].length;
      quantifier(m[2] ? `{${lo},${hi === Infinity ? "" : hi}}` : `{${lo}}`);
    } else {
      literal(ch);
    }
  }
  return { source: out, flags };
}

type EscapeKind = "char" | "class" | "anchor";

/** Translate the escape after a backslash at `i`. Returns [text, kind, next index]. */
function translateEscape(src: string, i: number, pg: boolean, inClass: boolean): [string, EscapeKind, number] {
  if (i >= src.length) throw new PyRegexError("bad escape (end of pattern)");
  const c = String.fromCodePoint(src.codePointAt(i)!);
  const next = i + c.length;
  const unsupported = (): void => {
    if (pg) throw new PyRegexUnsupported(`\\${c}`);
  };
  const hex = (len: number): [string, EscapeKind, number] => {
    const digits = src.slice(next, next + len);
    if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(digits)) throw new PyRegexError(`incomplete escape \\${c}${digits}`);
    const cp = parseInt(digits, 16);
    if (cp > 0x10ffff) throw new PyRegexError(`bad escape \\${c}${digits}`);
    return [String.fromCodePoint(cp), "char", next + len];
  };
  if (SIMPLE_ESCAPES[c] !== undefined) return [SIMPLE_ESCAPES[c], "char", next];
  switch (c) {
    case "x":
      return hex(2);
    case "u":
      return hex(4);
    case "U":
      return hex(8);
    case "d":
    case "D":
      unsupported();
      return [c === "d" ? "\\p{Nd}" : "\\P{Nd}", "class", next];
    case "w":
    case "W":
      unsupported();
      // Inside a class a negated union cannot be written without the `v` flag: JS `\W` is close.
      if (inClass) return [c === "w" ? PY_WORD : "\\W", "class", next];
      return [c === "w" ? `[${PY_WORD}]` : `[^${PY_WORD}]`, "class", next];
    case "s":
    case "S":
      unsupported();
      if (inClass) return [c === "s" ? PY_SPACE : "\\S", "class", next];
      return [c === "s" ? `[${PY_SPACE}]` : `[^${PY_SPACE}]`, "class", next];
    case "b":
      if (inClass) return ["\b", "char", next];
      unsupported();
      return [WORD_BOUNDARY, "anchor", next];
    case "B":
    case "A":
    case "Z":
      if (inClass) throw new PyRegexError(`bad escape \\${c}`);
      if (c === "B") {
        unsupported();
        return [NOT_WORD_BOUNDARY, "anchor", next];
      }
      if (c === "A") return [pg ? "^" : "(?<![\\s\\S])", "anchor", next];
      return [pg ? "$" : "(?![\\s\\S])", "anchor", next];
  }
  if (/[0-9]/.test(c)) {
    const m = /^[0-7]{1,3}/.exec(src.slice(i));
    // Python: `\0..` and three octal digits are octal escapes; anything else is a group reference.
    if (c === "0" || inClass || (m && m[0].length === 3)) {
      if (!m) throw new PyRegexError(`bad escape \\${c}`);
      const oct = c === "0" || inClass ? m[0] : m[0].slice(0, 3);
      const cp = parseInt(oct, 8);
      if (cp > 0o377) throw new PyRegexError(`octal escape value \\${oct} outside of range 0-0o377`);
      return [String.fromCodePoint(cp), "char", i + oct.length];
    }
    const ref = /^[0-9]{1,2}/.exec(src.slice(i))![0];
    if (pg) throw new PyRegexUnsupported("backreference");
    return [`(?:\\${ref})`, "class", i + ref.length];
  }
  if (/[a-zA-Z]/.test(c)) throw new PyRegexError(`bad escape \\${c}`);
  return [c, "char", next];
}

/** Translate a character class whose `[` precedes index `i`. Returns [class, next index]. */
function translateClass(src: string, i: number, pg: boolean, ci: boolean): [string, number] {
  let body = "";
  let negate = false;
  if (src[i] === "^") {
    negate = true;
    i++;
  }
  const emitChar = (ch: string): string => (pg ? pgLiteral(ch) : "\\]^-[".includes(ch) ? `\\${ch}` : ch);
  const readItem = (): { char?: string; text: string } => {
    const ch = String.fromCodePoint(src.codePointAt(i)!);
    i += ch.length;
    if (ch !== "\\") return { char: ch, text: emitChar(ch) };
    const [piece, kind, next] = translateEscape(src, i, pg, true);
    i = next;
    return kind === "char" ? { char: piece, text: emitChar(piece) } : { text: piece };
  };
  for (let first = true; ; first = false) {
    if (i >= src.length) throw new PyRegexError("unterminated character set");
    if (src[i] === "]" && !first) return [`[${negate ? "^" : ""}${body}]`, i + 1];
    const lo = readItem();
    if (lo.char !== undefined && src[i] === "-" && i + 1 < src.length && src[i + 1] !== "]") {
      i++;
      const hi = readItem();
      if (hi.char === undefined || hi.char.codePointAt(0)! < lo.char.codePointAt(0)!) {
        throw new PyRegexError("bad character range");
      }
      // Case-insensitive ranges fold differently in PostgreSQL; keep them out of the SQL subset.
      if (pg && ci) throw new PyRegexUnsupported("case-insensitive range");
      body += `${lo.text}-${hi.text}`;
    } else {
      body += lo.text;
    }
  }
}

/** A literal for a PostgreSQL ARE: backslash-escaped ASCII punctuation, everything else as is. */
function pgLiteral(ch: string): string {
  return /^[!-/:-@[-`{-~]$/.test(ch) ? `\\${ch}` : ch;
}

const regexCache = new Map<string, RegExp>();
const REGEX_CACHE_MAX = 256;

/**
 * Compile a Python pattern to a JS RegExp with `re.match` semantics (anchored at the start only).
 * Results are cached (LRU). Throws PyRegexError for invalid or unsupported patterns.
 */
export function pythonRegexToJs(pattern: string): RegExp {
  const hit = regexCache.get(pattern);
  if (hit) {
    regexCache.delete(pattern);
    regexCache.set(pattern, hit);
    return hit;
  }
  const { source, flags } = translatePyRegex(pattern, "js");
  let re: RegExp;
  try {
    // MULTILINE is translated by hand and never passed on, so `^` only matches at index 0. (Not a
    // `(?<![\\s\\S])` lookbehind: V8 tries it between the halves of a surrogate pair.)
    re = new RegExp(`^(?:${source})`, `u${flags.i ? "i" : ""}${flags.s ? "s" : ""}`);
  } catch (e) {
    throw new PyRegexError((e as Error).message.split(": ").pop() ?? "invalid pattern");
  }
  regexCache.set(pattern, re);
  if (regexCache.size > REGEX_CACHE_MAX) regexCache.delete(regexCache.keys().next().value!);
  return re;
}

/**
 * When a pattern is `.*LITERAL` or `.*LITERAL.*` (the UI's substring search, optionally with
 * leading flags), return the literal: the pattern matches a value whose first line contains it
 * (every line, with `(?s)`), case-insensitively with `(?i)`.
 */
export function substringPattern(src: string): { lit: string; ci: boolean; dotall: boolean } | null {
  let i = 0;
  let ci = false;
  let dotall = false;
  for (let m = LEADING_FLAGS.exec(src); m; m = LEADING_FLAGS.exec(src.slice(i))) {
    if (!/^[isu]+$/.test(m[1])) return null;
    ci ||= m[1].includes("i");
    dotall ||= m[1].includes("s");
    i += m[0].length;
  }
  if (!src.startsWith(".*", i)) return null;
  const rest = literalPattern(src.slice(i + 2));
  if (!rest || rest.exact || rest.ci || rest.lit === "" || /^(?:\^|\\A)/.test(src.slice(i + 2))) return null;
  return { lit: rest.lit, ci, dotall };
}

/**
 * When a pattern is a plain literal (optionally anchored, optionally followed by `.*` or `\Z`),
 * return it so SQL can use LIKE/GLOB/= instead of a regex. `exact` means it must match the whole
 * value; otherwise it is a prefix.
 */
export function literalPattern(src: string): { lit: string; exact: boolean; ci: boolean } | null {
  let i = 0;
  let ci = false;
  for (let m = LEADING_FLAGS.exec(src); m; m = LEADING_FLAGS.exec(src.slice(i))) {
    if (!/^[imsu]+$/.test(m[1])) return null;
    ci ||= m[1].includes("i");
    i += m[0].length;
  }
  if (src.startsWith("^", i)) i += 1;
  else if (src.startsWith("\\A", i)) i += 2;
  let lit = "";
  while (i < src.length) {
    const rest = src.slice(i);
    if (rest === ".*") return { lit, exact: false, ci };
    if (rest === "\\Z") return { lit, exact: true, ci };
    const ch = String.fromCodePoint(src.codePointAt(i)!);
    i += ch.length;
    if (ch === "\\") {
      if (i >= src.length || /[a-zA-Z0-9]/.test(src[i])) return null;
      const esc = String.fromCodePoint(src.codePointAt(i)!);
      i += esc.length;
      lit += esc;
    } else if ("^$.*+?{}[]()|".includes(ch)) {
      return null;
    } else {
      lit += ch;
    }
  }
  return { lit, exact: false, ci };
}
