// Search plans (issue 15): a query whose filters search text — `(?i)prefix.*`, `^`/`C^`, `C=`,
// `(?i).*text.*`, `rin`/`Crin` on a column with search indexes (migration 015) — is narrowed to the
// rows an index names, when that is cheaper than walking the rows in the requested order:
//
//  - the index lists candidates: an ASCII-lowercased range for prefixes and case-insensitive
//    equality, trigrams (SQLite FTS5, PostgreSQL pg_trgm) for substrings of 3+ characters, plus —
//    for case-insensitive terms — every row holding non-ASCII text (ASCII folding cannot judge it);
//  - candidates are a superset: the query keeps its full WHERE and residual re-check, so the rows
//    returned are exactly the query engine's (the differential tests in test/query-index.test.ts);
//  - the plan is chosen by selectivity: candidates are counted (SQLite) or listed (PostgreSQL) up
//    to K = √(page end × rows) (the point where fetching every candidate costs about what an
//    ordered walk that stops after the page costs); more than K, and the query walks the rows in
//    order instead and stops when its page is full. Counts and unpaged queries always take the
//    index (a case-sensitive `^` takes the column's code-point index through its own GLOB or
//    LIKE, without candidates). On SQLite the index's candidates stay a subquery of the page's query
//    (never listed into JavaScript);
//  - SQLite, a page ordered by uid (the UI's order): migration 019's covering index (uid and the
//    searched columns, in uid order) is walked instead of reading each candidate's users row (a
//    random page read each: ~10 µs at 1,000,000 users). Few candidates (under K/8) are still
//    looked up by id; more are tested as a set against the walked entries (a medium term, ~4,000
//    candidates at 1,000,000 users: 1–2 ms instead of 7–65 ms); K or more, and the walk re-checks
//    each entry's text itself, no candidates at all.

import { CompiledQuery, type Kysely } from "kysely";
import type { Dialect } from "./migrations/migration.js";
import { nonAsciiIndex, nonAsciiSql, trigramTable } from "./migrations/015-search-indexes.js";
import { SEARCH_COVER_INDEX } from "./migrations/019-search-cover.js";
import { type Filter, type FilterLeaf, asciiLower, isAscii, isOrFilter, literalPattern, parseOrderKey, substringPattern } from "./query-filters.js";
import type { QueryOptions } from "./query.js";

/** A table's search indexes (migration 015): entry field → the column they cover. */
export interface SearchIndexes {
  table: string;
  /** The id column, qualified, as the entity query selects it. */
  idSql: string;
  columns: Readonly<Record<string, string>>;
  /** Fields an index returns in order (so an ordered walk can stop after the page). */
  ordered: ReadonlySet<string>;
  /**
   * SQLite: an index holding every searched column in the order of `field` (migration 019), walked
   * for a page in that order instead of reading the table's rows.
   */
  cover?: { index: string; field: string };
  /**
   * Per store, fields whose column has an index in code-point order — SQLite's plain (BINARY) one,
   * PostgreSQL's `COLLATE "C"` one (migration 020): the store serves a case-sensitive prefix's own
   * SQL (`GLOB 'prefix*'`, `LIKE 'prefix%'`) from that index itself.
   */
  binary: Readonly<Record<Dialect, ReadonlySet<string>>>;
}

export const USER_SEARCH: SearchIndexes = {
  table: "users",
  idSql: `"users"."id"`,
  columns: { username: "username", full_name: "full_name" },
  ordered: new Set(["id", "uid", "username", "full_name"]),
  cover: { index: SEARCH_COVER_INDEX, field: "uid" },
  binary: { sqlite: new Set(["username", "full_name"]), postgres: new Set(["username"]) },
};

type TermKind = "prefix" | "equal" | "substring";
interface Term {
  column: string;
  kind: TermKind;
  /** ASCII-lowercased. */
  text: string;
  /** Case-insensitive: rows with non-ASCII text are candidates too. */
  ci: boolean;
  /**
   * A case-sensitive `^` (no GLOB wildcard in the prefix) on this field: its own SQL (`GLOB
   * 'prefix*'`, `LIKE 'prefix%'`) ranges over the column's code-point index where the store has one.
   */
  glob?: string;
}

/** Trigram searches need three characters; shorter substrings scan. */
export const MIN_TRIGRAM_TERM = 3;
/**
 * Bounds on K (tests shrink them to reach the ordered-walk plan with a few rows), and the share of
 * K under which candidates are looked up by id rather than tested against a covering index's walk.
 */
export const searchTuning = { minK: 100, maxK: 20_000, lookupDivisor: 8 };

function termOf(leaf: FilterLeaf, idx: SearchIndexes): Term | null {
  if (leaf.path.length !== 1 || !Object.hasOwn(idx.columns, leaf.path[0])) return null;
  const column = idx.columns[leaf.path[0]];
  const v = leaf.value;
  if (typeof v !== "string") return null;
  const make = (kind: TermKind, text: string, ci: boolean): Term | null => {
    if (ci && !isAscii(text)) return null;
    if (kind === "substring" ? [...text].length < MIN_TRIGRAM_TERM : text === "") return null;
    return { column, kind, text: asciiLower(text), ci };
  };
  switch (leaf.op) {
    case "~": {
      const src = leaf.ci ? `(?i)${v}` : v;
      const lit = literalPattern(src);
      if (lit) return make(lit.exact ? "equal" : "prefix", lit.lit, lit.ci);
      const sub = substringPattern(src);
      return sub ? make("substring", sub.lit, sub.ci) : null;
    }
    case "^": {
      const t = make("prefix", v, leaf.ci);
      if (t && !leaf.ci && !/[*?[\]]/.test(v)) t.glob = leaf.path[0];
      return t;
    }
    case "=":
      // Case-sensitive equality already has the column's own index.
      return leaf.ci ? make("equal", v, true) : null;
    case "rin":
      return make("substring", v, leaf.ci);
    default:
      return null;
  }
}

/** The terms whose candidates cover every row `f` can match, or null when some branch has none. */
function coveringTerms(f: Filter, idx: SearchIndexes): Term[] | null {
  if (!isOrFilter(f)) {
    const t = termOf(f, idx);
    return t ? [t] : null;
  }
  const out: Term[] = [];
  for (const group of f.or) {
    const best = pickBest(group.map((g) => coveringTerms(g, idx)));
    if (!best) return null;
    out.push(...best);
  }
  return out;
}

/** Among alternative coverings of the same rows, the one likely to name the fewest candidates. */
function pickBest(options: (Term[] | null)[]): Term[] | null {
  const score = (ts: Term[]): number => Math.min(...ts.map((t) => t.text.length + (t.kind === "equal" ? 100 : 0))) - ts.length;
  let best: Term[] | null = null;
  for (const o of options) if (o && (!best || score(o) > score(best))) best = o;
  return best;
}

function nextString(s: string): string | null {
  const cps = [...s];
  const last = cps.pop()!.codePointAt(0)!;
  if (last >= 0x10ffff) return null;
  const next = last + 1 >= 0xd800 && last + 1 < 0xe000 ? 0xe000 : last + 1;
  return cps.join("") + String.fromCodePoint(next);
}

/** FTS5 query: every trigram of the term (a superset: positions are not checked, detail=none). */
function trigramQuery(text: string): string {
  const cps = [...text];
  const grams = new Set<string>();
  for (let i = 0; i + 3 <= cps.length; i++) grams.add(cps.slice(i, i + 3).join(""));
  return [...grams].map((g) => `"${g.replace(/"/g, '""')}"`).join(" AND ");
}

const likeEscape = (s: string): string => s.replace(/[\\%_]/g, (m) => `\\${m}`);

interface Sql {
  text: string;
  params: unknown[];
}

/**
 * SQL listing candidate ids for one term (placeholders `?`, numbered later for PostgreSQL): `main`
 * is the index's own condition (what PostgreSQL's statistics can estimate), `all` adds the rows
 * with non-ASCII text for a case-insensitive term.
 */
function candidateSql(t: Term, idx: SearchIndexes, dialect: Dialect, trigrams: boolean): { main: Sql; all: Sql } | null {
  const pg = dialect === "postgres";
  const folded = pg ? `lower(${t.column} COLLATE "C")` : `lower(${t.column})`;
  let main: Sql;
  if (t.kind === "equal") main = { text: `SELECT id FROM ${idx.table} WHERE ${folded} = ?`, params: [t.text] };
  else if (t.kind === "prefix") {
    const upper = nextString(t.text);
    main = upper
      ? { text: `SELECT id FROM ${idx.table} WHERE ${folded} >= ? AND ${folded} < ?`, params: [t.text, upper] }
      : { text: `SELECT id FROM ${idx.table} WHERE ${folded} >= ?`, params: [t.text] };
  } else if (!trigrams) return null;
  else if (pg) main = { text: `SELECT id FROM ${idx.table} WHERE ${folded} LIKE ?`, params: [`%${likeEscape(t.text)}%`] };
  else {
    const fts = trigramTable(t.column);
    main = { text: `SELECT rowid AS id FROM ${fts} WHERE ${fts} MATCH ?`, params: [trigramQuery(t.text)] };
  }
  if (!t.ci) return { main, all: main };
  // SQLite has no statistics (Gatehouse never runs ANALYZE) to know the partial index is small.
  const from = pg ? idx.table : `${idx.table} INDEXED BY ${nonAsciiIndex(t.column)}`;
  return { main, all: { text: `${main.text} UNION ALL SELECT id FROM ${from} WHERE ${nonAsciiSql(t.column, dialect)}`, params: main.params } };
}

/**
 * PostgreSQL: the planner's estimate of the rows the terms' indexes name (from the statistics
 * ANALYZE keeps on the lowercased index expressions), without running the search — counting them
 * would build the whole trigram bitmap of a common term (~10 ms at 100,000 users) only to learn
 * that the ordered walk is cheaper. The non-ASCII rows are left out: few, and PostgreSQL has no
 * statistics for that expression (it would guess half the table).
 */
async function estimatedRows(db: AnyDb, mains: Sql[]): Promise<number> {
  const text = `EXPLAIN (FORMAT JSON) ${mains.map((m) => m.text).join(" UNION ALL ")}`;
  const r = await db.executeQuery<{ "QUERY PLAN": unknown }>(
    CompiledQuery.raw(
      numberPlaceholders(text, "postgres", 1),
      mains.flatMap((m) => m.params),
    ),
  );
  const cell = r.rows[0]?.["QUERY PLAN"];
  const plan = (typeof cell === "string" ? JSON.parse(cell) : cell) as [{ Plan?: { "Plan Rows"?: number } }] | undefined;
  return Number(plan?.[0]?.Plan?.["Plan Rows"] ?? Infinity);
}

// biome-ignore lint/suspicious/noExplicitAny: any schema: the planner runs raw SQL only
type AnyDb = Kysely<any>;

/** PostgreSQL: whether pg_trgm indexes exist (migration 015 skips them without the extension). */
const trigramIndexes = new WeakMap<AnyDb, Promise<boolean>>();
function hasTrigrams(db: AnyDb, dialect: Dialect, table: string): Promise<boolean> {
  if (dialect === "sqlite") return Promise.resolve(true);
  let p = trigramIndexes.get(db);
  if (!p) {
    p = db
      .executeQuery<{ n: number | string }>(CompiledQuery.raw(`SELECT count(*) AS n FROM pg_indexes WHERE tablename = $1 AND indexname LIKE '%\\_trgm'`, [table]))
      .then((r) => Number(r.rows[0]?.n ?? 0) > 0)
      .catch(() => false);
    trigramIndexes.set(db, p);
  }
  return p;
}

/** PostgreSQL: `?` placeholders numbered from `start` (the SQL around them has no other `?`). */
export const numberPlaceholders = (sql: string, dialect: Dialect, start: number): string => {
  let n = start;
  return dialect === "postgres" ? sql.replace(/\?/g, () => `$${n++}`) : sql;
};

/**
 * The table's size for K, read at most every few seconds: K only weighs two plans against each
 * other (a stale size changes the speed of one search, never its rows), and on PostgreSQL the read
 * is a round trip of its own on every search otherwise.
 */
const sizes = new WeakMap<AnyDb, Map<string, { rows: number; at: number }>>();
const SIZE_TTL_MS = 5_000;
async function approximateRows(db: AnyDb, table: string): Promise<number> {
  let byTable = sizes.get(db);
  if (!byTable) sizes.set(db, (byTable = new Map()));
  const hit = byTable.get(table);
  const now = performance.now();
  if (hit && now - hit.at < SIZE_TTL_MS) return hit.rows;
  const r = await db.executeQuery<{ n: number | string | null }>(CompiledQuery.raw(`SELECT max(id) AS n FROM ${table}`));
  const rows = Number(r.rows[0]?.n ?? 0);
  byTable.set(table, { rows, at: now });
  return rows;
}

export interface SearchPlan {
  /** A condition on the id column to AND into the WHERE (placeholders `?`); null: none (`via` alone). */
  where: string | null;
  params: unknown[];
  /** Candidates listed or counted, or -1 when the database reads them itself (counts, unpaged queries). */
  candidates: number;
  /**
   * SQLite: the covering index the page's id query walks (INDEXED BY), in the page's order. Only
   * for a page cut in SQL; a query that pages in memory ignores it (`where` alone is still right).
   */
  via?: string;
}

export interface PlanInput {
  filters: Filter[];
  /** The page's end (offset + limit, 1 for get); Infinity for counts, unpaged queries and orders
   * no index serves (the query then reads every match anyway). */
  want: number;
  /** The field of the first order key (none: the default order, by id). */
  order?: string;
}

/** The planner's input for a query's filters and options. */
export function planInput(filters: Filter[], opts: QueryOptions, search: SearchIndexes): PlanInput {
  const first = opts.order_by.length ? parseOrderKey(opts.order_by[0]) : null;
  const order = first && first.path.length === 1 ? first.path[0] : undefined;
  if (opts.count || (!opts.get && opts.limit === 0)) return { filters, want: Infinity, order };
  if (first && (order === undefined || !search.ordered.has(order))) return { filters, want: Infinity, order };
  return { filters, want: opts.get ? 1 : opts.offset + opts.limit, order };
}

/**
 * Picks the index when it names fewer than K candidates (or the query needs every match);
 * returns null to let the query walk its rows in order.
 */
export async function planSearch(db: AnyDb, dialect: Dialect, idx: SearchIndexes, input: PlanInput): Promise<SearchPlan | null> {
  const best = pickBest(input.filters.map((f) => coveringTerms(f, idx)));
  if (!best) return null;
  // Every match wanted, and the filter's own prefix SQL ranges over the column's code-point index:
  // the store reads just the matches from it; a candidate subquery from the lowercased index would
  // only add a set to build and probe (a count at 100,000 users: SQLite ~180 against ~150 µs).
  const glob = best.length === 1 ? best[0]!.glob : undefined;
  if (!Number.isFinite(input.want) && glob !== undefined && idx.binary[dialect].has(glob)) return null;
  const trigrams = best.some((t) => t.kind === "substring") ? await hasTrigrams(db, dialect, idx.table) : true;
  const terms = best.map((t) => candidateSql(t, idx, dialect, trigrams));
  if (terms.some((p) => p === null)) return null;
  const parts = terms.map((p) => p!.all);
  const union: Sql = { text: parts.map((p) => p.text).join(" UNION ALL "), params: parts.flatMap((p) => p.params) };
  // Every match is needed: the database reads the candidates itself.
  if (!Number.isFinite(input.want)) return { where: `${idx.idSql} IN (${union.text})`, params: union.params, candidates: -1 };
  const rows = await approximateRows(db, idx.table);
  // A power of two: the probe's text (LIMIT k) then takes a handful of forms, not one per store size
  // (each distinct text is a prepared statement kept by the store).
  const k = Math.min(searchTuning.maxK, Math.max(searchTuning.minK, 2 ** Math.ceil(Math.log2(Math.max(1, Math.sqrt(input.want * rows))))));
  if (dialect === "sqlite") {
    // Counted (one row back); when few, the query reads the candidates itself as a subquery:
    // listing them into JavaScript and handing them back as JSON cost more than the whole search
    // (~5 ms for 4,000 ids at 1,000,000 users, against ~0.4 ms to count them).
    const probe = `SELECT count(*) AS n FROM (${union.text} LIMIT ${k}) AS c`;
    const counted = await db.executeQuery<{ n: number | string }>(CompiledQuery.raw(probe, union.params));
    const n = Number(counted.rows[0]?.n ?? 0);
    const via = idx.cover && input.order === idx.cover.field ? idx.cover.index : undefined;
    if (via && n >= k) return { where: null, params: [], candidates: n, via };
    if (n >= k) return null;
    // Many candidates, a covering walk: tested as a set (`+` keeps SQLite from looking them up by id).
    if (via && n >= k / searchTuning.lookupDivisor) return { where: `+${idx.idSql} IN (${union.text})`, params: union.params, candidates: n, via };
    return { where: `${idx.idSql} IN (${union.text})`, params: union.params, candidates: n };
  }
  // PostgreSQL: estimated first; clearly more than K and the ordered walk is taken without
  // touching the index. Otherwise listed up to K (one statement): reaching K still means walking.
  const estimate = await estimatedRows(
    db,
    terms.map((p) => p!.main),
  );
  if (estimate >= 2 * k) return null;
  const listed = await db.executeQuery<{ id: number | string }>(CompiledQuery.raw(numberPlaceholders(`${union.text} LIMIT ${k}`, dialect, 1), union.params));
  if (listed.rows.length >= k) return null;
  // UNION ALL may name a row twice (a non-ASCII row in range): ANY does not mind, the list is kept short.
  const ids = [...new Set(listed.rows.map((r) => Number(r.id)))];
  return { where: `${idx.idSql} = ANY(?::bigint[])`, params: [ids], candidates: ids.length };
}
