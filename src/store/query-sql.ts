// Push-down of parsed filters and order_by into SQL. Contract: for every row,
//   (WHERE matches) && matchRow(row, residual)  ===  matchRow(row, filters)
// Values are always bound, never interpolated. Where SQL cannot reproduce the Python semantics
// exactly for every possible value (case folding of non-ASCII text in PostgreSQL, …) we emit a
// condition that is a *superset* and also keep the filter in `residual`, so it is re-checked.

import { type Filter, type FilterLeaf, isAscii, isOrFilter, literalPattern, normalizeValue, parseOrderKey, pythonRegexToJs, substringPattern, translatePyRegex } from "./query-filters.js";

export type ColumnKind = "text" | "int" | "bool" | "datetime" | "json";
export interface ColumnMap {
  /** `notNull`: the column never holds NULL (its ORDER BY then needs no NULLS clause, see compileOrderBy). */
  [field: string]: { sql: string; kind: ColumnKind; notNull?: true };
}
export type Dialect = "sqlite" | "postgres";

export interface CompiledFilters {
  where: string | null;
  params: unknown[];
  residual: Filter[];
}

// Placeholder marker inside fragments; numbered (or turned into "?") once the WHERE is assembled,
// so fragments can be built, combined or dropped without disturbing parameter order.
const MARK = "\u0000";
const TRUE_SQL = "1=1";
const FALSE_SQL = "1=0";
// Past this many IN-list values we filter in memory instead of hitting bind-parameter limits.
const MAX_IN_LIST = 500;

interface Piece {
  sql: string;
  params: unknown[];
  /** false: `sql` may also match rows the filter rejects, so the filter must stay residual. */
  exact: boolean;
}

const piece = (sql: string, params: unknown[] = [], exact = true): Piece => ({ sql, params, exact });
const TRUE_PIECE = piece(TRUE_SQL);
const FALSE_PIECE = piece(FALSE_SQL);

export function compileFilters(filters: Filter[], columns: ColumnMap, dialect: Dialect, startIndex = 1): CompiledFilters {
  const ctx = new Ctx(columns, dialect);
  const parts: Piece[] = [];
  const residual: Filter[] = [];
  for (const f of filters) {
    const p = ctx.node(f);
    if (p === null || !p.exact) residual.push(f);
    if (p !== null) parts.push(p);
  }
  if (!parts.length) return { where: null, params: [], residual };
  let n = startIndex;
  // Always parenthesised, so callers can write `WHERE other AND ${where}` safely.
  const where = parts
    .map((p) => `(${p.sql})`)
    .join(" AND ")
    .replace(/\u0000/g, () => (dialect === "postgres" ? `$${n++}` : "?"));
  return { where, params: parts.flatMap((p) => p.params), residual };
}

/**
 * ORDER BY matching the in-memory sort (first key most significant; nulls first ascending and
 * last descending unless `nulls_first:`/`nulls_last:` says otherwise). Returns null when a key is
 * not a plain column — the caller must then sort in memory — and "" for an empty order_by.
 */
export function compileOrderBy(orderBy: string[], columns: ColumnMap, dialect: Dialect): string | null {
  const out: string[] = [];
  for (const raw of orderBy) {
    const key = parseOrderKey(raw);
    const col = key.path.length === 1 && Object.hasOwn(columns, key.path[0]) ? columns[key.path[0]] : undefined;
    if (!col || col.kind === "json" || !KINDS.has(col.kind)) return null;
    // `:ci` sorts by the ASCII-lowercased text: the expression the search indexes hold (migration 015).
    const text = dialect === "postgres" ? `${col.sql} COLLATE "C"` : col.sql;
    const expr = col.kind !== "text" ? col.sql : key.ci ? `lower(${text})` : text;
    // A NULLS clause against the index's own order keeps PostgreSQL from walking the index (a
    // uid-ordered page of a common search read every row and sorted them: 3 ms → 140 ms at
    // 100,000 users); without NULLs it changes nothing, so a NOT NULL column goes without.
    const nulls = col.notNull ? "" : ` NULLS ${key.nullsFirst ? "FIRST" : "LAST"}`;
    out.push(`${expr} ${key.desc ? "DESC" : "ASC"}${nulls}`);
  }
  return out.join(", ");
}

const KINDS = new Set<string>(["text", "int", "bool", "datetime"]);

/** SQLite user function `regexp(pattern, value)`: Python `re.match` semantics, 1 or 0. */
export function sqliteRegexpFunction(pattern: unknown, value: unknown): 0 | 1 {
  if (typeof pattern !== "string") return 0;
  const s = value === null || value === undefined ? "" : value;
  return typeof s === "string" && pythonRegexToJs(pattern).test(s) ? 1 : 0;
}

/** Registers every SQL function compiled filters rely on (currently `regexp`) on a better-sqlite3 db. */
export function registerSqliteFunctions(db: { function(name: string, options: { deterministic: boolean }, fn: (a: unknown, b: unknown) => unknown): unknown }): void {
  db.function("regexp", { deterministic: true }, sqliteRegexpFunction);
}

class Ctx {
  private readonly pg: boolean;

  constructor(
    private readonly columns: ColumnMap,
    dialect: Dialect,
  ) {
    this.pg = dialect === "postgres";
  }

  /** null: no SQL restriction possible (the filter must be evaluated in memory). */
  node(f: Filter): Piece | null {
    if (!isOrFilter(f)) return this.leaf(f);
    const branches: Piece[] = [];
    for (const group of f.or) {
      const p = this.and(group);
      if (p === null) return null;
      branches.push(p);
    }
    return piece(
      branches.map((b) => `(${b.sql})`).join(" OR "),
      branches.flatMap((b) => b.params),
      branches.every((b) => b.exact),
    );
  }

  private and(group: Filter[]): Piece | null {
    const pieces = group.map((g) => this.node(g));
    const known = pieces.filter((p): p is Piece => p !== null);
    if (!known.length) return null;
    // Dropping an uncompilable conjunct leaves a superset, which is fine if marked inexact.
    return piece(
      known.map((p) => `(${p.sql})`).join(" AND "),
      known.flatMap((p) => p.params),
      known.length === pieces.length && known.every((p) => p.exact),
    );
  }

  private leaf(leaf: FilterLeaf): Piece | null {
    if (leaf.path.length !== 1 || !Object.hasOwn(this.columns, leaf.path[0])) return null;
    const col = this.columns[leaf.path[0]];
    switch (col.kind) {
      case "text":
        return leaf.op === "~" ? this.textRegex(leaf, col.sql) : this.text(leaf, col.sql);
      case "int":
      case "bool":
      case "datetime":
        return this.numeric(leaf, col.sql, col.kind);
      default:
        return null;
    }
  }

  private ph(v: unknown): string {
    if (!this.pg) return MARK;
    if (typeof v === "string") return `${MARK}::text`;
    // bigint keeps integer-column indexes usable; fractions need numeric to compare exactly.
    return Number.isSafeInteger(v) ? `${MARK}::bigint` : `${MARK}::numeric`;
  }

  private list(values: unknown[]): string {
    return values.map((v) => this.ph(v)).join(", ");
  }

  private lower(c: string): string {
    // Under "C" PostgreSQL lowercases ASCII only, whatever the database locale (no Turkish i).
    return this.pg ? `lower(${c} COLLATE "C")` : `lower(${c})`;
  }

  /**
   * Python case-folds with full Unicode rules; SQL's lower() is only trusted for ASCII. Rows with
   * non-ASCII text take `fallback` (exact) or pass through to the residual re-check.
   */
  private asciiGuard(c: string, p: Piece, fallback?: Piece): Piece {
    const nonAscii = this.pg ? `octet_length(${c}) <> char_length(${c})` : `length(${c}) <> length(CAST(${c} AS BLOB))`;
    const other = fallback ?? TRUE_PIECE;
    return piece(`CASE WHEN ${nonAscii} THEN ${other.sql} ELSE ${p.sql} END`, [...other.params, ...p.params], (fallback?.exact ?? false) && p.exact);
  }

  private text(leaf: FilterLeaf, c: string): Piece | null {
    const { op, ci } = leaf;
    let v = leaf.value;
    if (ci) {
      const strings = (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === "string");
      if (!strings.every(isAscii)) return null;
      v = Array.isArray(v) ? v.map(lowerIfString) : lowerIfString(v);
    }
    const col = ci ? this.lower(c) : c;
    const guard = (p: Piece): Piece => (ci ? this.asciiGuard(c, p) : p);
    const cmpCol = this.pg && !ci ? `${c} COLLATE "C"` : col;
    switch (op) {
      case "=":
        if (v === null) return piece(`${c} IS NULL`);
        return typeof v === "string" ? guard(piece(`${col} = ${this.ph(v)}`, [v])) : FALSE_PIECE;
      case "!=":
        if (v === null) return piece(`${c} IS NOT NULL`);
        return typeof v === "string" ? guard(piece(`${c} IS NULL OR ${col} <> ${this.ph(v)}`, [v])) : TRUE_PIECE;
      case "<":
      case "<=":
      case ">":
      case ">=":
        return typeof v === "string" ? guard(piece(`${cmpCol} ${op} ${this.ph(v)}`, [v])) : FALSE_PIECE;
      case "in":
      case "nin": {
        const list = v as unknown[];
        const strings = [...new Set(list.filter((x): x is string => typeof x === "string"))];
        if (strings.length > MAX_IN_LIST) return null;
        const inList = strings.length ? `${col} IN (${this.list(strings)})` : null;
        if (op === "nin") {
          return guard(piece(inList ? `${c} IS NOT NULL AND NOT (${inList})` : `${c} IS NOT NULL`, strings));
        }
        const alternatives = [inList, list.includes(null) ? `${c} IS NULL` : null].filter(Boolean);
        return alternatives.length ? guard(piece(alternatives.join(" OR "), strings)) : FALSE_PIECE;
      }
      case "rin":
      case "rnin": {
        if (typeof v !== "string") return FALSE_PIECE;
        const pos = `${this.pg ? "strpos" : "instr"}(${col}, ${this.ph(v)})`;
        return guard(piece(op === "rin" ? `${pos} > 0` : `${c} IS NOT NULL AND ${pos} = 0`, [v]));
      }
      case "^":
      case "!^":
      case "$":
      case "!$": {
        if (typeof v !== "string") return FALSE_PIECE;
        const prefix = op === "^" || op === "!^";
        let match: Piece;
        if (!this.pg && !ci) {
          // SQLite's LIKE ignores ASCII case, so case-sensitive affixes use GLOB.
          const g = globEscape(v);
          match = piece(`${c} GLOB ${MARK}`, [prefix ? `${g}*` : `*${g}`]);
        } else {
          const l = likeEscape(v);
          match = piece(`${col} LIKE ${this.ph(l)} ESCAPE '\\'`, [prefix ? `${l}%` : `%${l}`]);
        }
        if (op === "^" || op === "$") return guard(match);
        return guard(piece(`${c} IS NOT NULL AND NOT (${match.sql})`, match.params));
      }
      default:
        return null;
    }
  }

  private textRegex(leaf: FilterLeaf, c: string): Piece | null {
    const src = leaf.ci ? `(?i)${leaf.value as string}` : (leaf.value as string);
    // re.match(p, None or "") — a NULL column is matched as the empty string.
    const subject = `COALESCE(${c}, '')`;
    const regexp = piece(`regexp(${MARK}, ${subject})`, [src]);
    const lit = literalPattern(src);
    if (lit && (!lit.ci || isAscii(lit.lit))) {
      if (!lit.ci) {
        if (lit.exact) return piece(`${subject} = ${this.ph(lit.lit)}`, [lit.lit]);
        if (lit.lit === "") return TRUE_PIECE;
        if (!this.pg) return piece(`${subject} GLOB ${MARK}`, [`${globEscape(lit.lit)}*`]);
        return piece(`${subject} LIKE ${this.ph("")} ESCAPE '\\'`, [`${likeEscape(lit.lit)}%`]);
      }
      const pattern = likeEscape(lit.lit.toLowerCase()) + (lit.exact ? "" : "%");
      const like = this.pg ? piece(`${this.lower(subject)} LIKE ${this.ph("")} ESCAPE '\\'`, [pattern]) : piece(`${subject} LIKE ${MARK} ESCAPE '\\'`, [pattern]);
      // JS case-insensitive matching also maps some non-ASCII letters onto ASCII ones (the Kelvin
      // sign matches "k"), so non-ASCII rows need the real regex.
      return this.asciiGuard(c, like, this.pg ? undefined : regexp);
    }
    if (!this.pg) return this.sqliteSubstring(src, c, subject, regexp) ?? regexp;
    let translated;
    try {
      translated = translatePyRegex(src, "pg");
    } catch {
      return null;
    }
    if (translated.flags.i && !isAscii(src)) return null;
    const p = piece(`${subject} COLLATE "C" ${translated.flags.i ? "~*" : "~"} ${this.ph("")}`, [`^(?:${translated.source})`]);
    return translated.flags.i ? this.asciiGuard(c, p) : p;
  }

  /**
   * SQLite, `.*text.*` (the UI's substring search): native instr() instead of calling the regex for
   * every row. Exact: rows where instr() could judge differently — a newline (`.` stops there) or,
   * case-insensitively, non-ASCII text — take the regex.
   */
  private sqliteSubstring(src: string, c: string, subject: string, regexp: Piece): Piece | null {
    const sub = substringPattern(src);
    if (!sub || (sub.ci && !isAscii(sub.lit))) return null;
    const doubtful = [...(sub.dotall ? [] : [`instr(${subject}, char(10)) > 0`]), ...(sub.ci ? [`length(${c}) <> length(CAST(${c} AS BLOB))`] : [])];
    const hay = sub.ci ? `lower(${subject})` : subject;
    const contains = piece(`instr(${hay}, ${MARK}) > 0`, [sub.ci ? sub.lit.toLowerCase() : sub.lit]);
    if (!doubtful.length) return contains;
    return piece(`CASE WHEN ${doubtful.join(" OR ")} THEN ${regexp.sql} ELSE ${contains.sql} END`, [...regexp.params, ...contains.params]);
  }

  private numeric(leaf: FilterLeaf, c: string, kind: ColumnKind): Piece | null {
    const { op } = leaf;
    const v = leaf.value;
    const n = toNumber(v);
    switch (op) {
      case "=":
        if (v === null) return piece(`${c} IS NULL`);
        return n === undefined ? FALSE_PIECE : piece(`${c} = ${this.ph(n)}`, [n]);
      case "!=":
        if (v === null) return piece(`${c} IS NOT NULL`);
        return n === undefined ? TRUE_PIECE : piece(`${c} IS NULL OR ${c} <> ${this.ph(n)}`, [n]);
      case "<":
      case "<=":
      case ">":
      case ">=":
        return n === undefined ? FALSE_PIECE : piece(`${c} ${op} ${this.ph(n)}`, [n]);
      case "in":
      case "nin": {
        const list = v as unknown[];
        const nums = [...new Set(list.map(toNumber).filter((x): x is number => x !== undefined))];
        if (nums.length > MAX_IN_LIST) return null;
        const inList = nums.length ? `${c} IN (${this.list(nums)})` : null;
        if (op === "nin") return piece(inList ? `${c} IS NOT NULL AND NOT (${inList})` : `${c} IS NOT NULL`, nums);
        const alternatives = [inList, list.includes(null) ? `${c} IS NULL` : null].filter(Boolean);
        return alternatives.length ? piece(alternatives.join(" OR "), nums) : FALSE_PIECE;
      }
      case "~":
        // Python matches `x or ""`: 0/False/None become "", any other number raises (no match).
        // Datetimes may be Date objects in the entry (always truthy), so leave those to memory.
        if (kind === "datetime") return null;
        return leaf.regex!.test("") ? piece(`${c} IS NULL OR ${c} = 0`) : FALSE_PIECE;
      default:
        // rin/rnin/^/$ and their negations raise TypeError in Python for numbers: never a match.
        return FALSE_PIECE;
    }
  }
}

function lowerIfString(x: unknown): unknown {
  return typeof x === "string" ? x.toLowerCase() : x;
}

/** Numbers, booleans (Python bools are ints) and datetimes (as epoch ms) compare numerically. */
function toNumber(v: unknown): number | undefined {
  const n = normalizeValue(v);
  if (typeof n === "boolean") return n ? 1 : 0;
  return typeof n === "number" && Number.isFinite(n) ? n : undefined;
}

function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (m) => `\\${m}`);
}

function globEscape(s: string): string {
  return s.replace(/[*?[]/g, (m) => `[${m}]`);
}
