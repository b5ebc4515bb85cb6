// `<ns>.query` over a table whose entries are built from rows: filters on stored columns and
// order_by/offset/limit run in SQL (the indexes exist for that); filters on computed fields are
// applied afterwards to the built entries. Only the rows that survive SQL become entries, and when
// nothing is left for memory only the requested page is built.

import { CompiledQuery } from "kysely";
import type BetterSqlite from "better-sqlite3";
import { freeSqliteHandle, readKeyLookup, type Db } from "../store/db.js";
import { ValidationErrors } from "../server/errors.js";
import {
  applyOptions,
  filterFields,
  compileFilters,
  compileOrderBy,
  isOrFilter,
  matchRow,
  parseFilters,
  parseOptions,
  type ColumnMap,
  type Dialect,
  type Filter,
  type QueryOptions,
} from "../store/query.js";
import { numberPlaceholders, planInput, planSearch, type SearchIndexes } from "../store/query-search.js";

export interface EntitySpec<Row, Entry> {
  /** `SELECT … FROM …` without WHERE / ORDER / LIMIT. */
  selectSql: string;
  /** `SELECT count(*) AS n FROM …` over the same FROM clause. */
  countSql: string;
  /** Stable default order (e.g. the id column). */
  defaultOrder: string;
  columns: ColumnMap;
  /** Every top-level field of an entry: filters on anything else are refused. */
  fields: ReadonlySet<string>;
  /** Search indexes on the table (src/store/query-search.ts), when it has any. */
  search?: SearchIndexes;
  /** Fields (unique plain columns) whose `=` lookups PostgreSQL batches into one statement and SQLite runs at once. */
  lookups?: ReadonlySet<string>;
  build(rows: Row[]): Promise<Entry[]>;
}

export interface QueryArgs {
  filters: unknown;
  options: unknown;
  /** Attribute names for validation errors (e.g. "filters", "options"). */
  attrs?: { filters?: string; options?: string };
}

// ---- PostgreSQL: concurrent lookups batched -------------------------------------------------
//
// `[[field, "=", value]]` with no options (a lookup by username, uid or id, the server's hottest
// call) on PostgreSQL: the lookups that arrive while the event loop is busy with one turn run as
// one `= ANY($1)` statement — one round trip and one plan for all of them, not one each.

type Lookup = { column: ColumnMap[string]; value: string | number };

function batchableLookup<Row, Entry>(spec: EntitySpec<Row, Entry>, filters: Filter[], opts: QueryOptions): Lookup | null {
  if (!spec.lookups || filters.length !== 1) return null;
  const f = filters[0];
  if (isOrFilter(f) || f.op !== "=" || f.ci || f.path.length !== 1 || !spec.lookups.has(f.path[0])) return null;
  const plain = !opts.order_by.length && opts.select === null && !opts.count && !opts.get && !opts.offset && !opts.limit;
  const column = spec.columns[f.path[0]];
  if (!plain || !column) return null;
  const ok = column.kind === "text" ? typeof f.value === "string" : column.kind === "int" && Number.isSafeInteger(f.value);
  return ok ? { column, value: f.value as string | number } : null;
}

interface Waiter {
  resolve: (entries: unknown[]) => void;
  reject: (err: unknown) => void;
}
/** Lookups of one statement shape: those waiting for the next batch, and batches running. */
interface LookupQueue {
  pending: Map<string | number, Waiter[]> | null;
  running: number;
  scheduled: boolean;
  /** The batch statement's text, built once (a fresh 2 kB string per batch is hashed again by the pool's statement names). */
  text: string;
  /** The looked-up column's name in a result row. */
  rowKey: string;
}
/** Per store, per select text (the spec's constant string, whose hash V8 keeps), per column. */
const pendingLookups = new WeakMap<Db, Map<string, Map<string, LookupQueue>>>();
/**
 * Batch statements of one shape running at once. While they run, new lookups gather into the
 * next batch instead of each turn sending its own small statement: at 16 lookups in flight the
 * batches hold ~8 rather than ~3-6 values, so PostgreSQL runs (and the pool writes and parses)
 * half as many statements. Two keep one batch travelling while the other is answered.
 */
const MAX_RUNNING_BATCHES = 2;

function batchedLookup<Row, Entry>(db: Db, spec: EntitySpec<Row, Entry>, column: Lookup["column"], value: string | number): Promise<unknown[]> {
  let perDb = pendingLookups.get(db);
  if (!perDb) pendingLookups.set(db, (perDb = new Map()));
  // Keyed by the select text and the column apart: a key joined from both would be a new 2 kB
  // string to flatten and hash on every lookup.
  let perSelect = perDb.get(spec.selectSql);
  if (!perSelect) perDb.set(spec.selectSql, (perSelect = new Map()));
  let queue = perSelect.get(column.sql);
  if (!queue) {
    const cast = column.kind === "text" ? "text[]" : "bigint[]";
    const text = `${spec.selectSql} WHERE ${column.sql} = ANY($1::${cast}) ORDER BY ${spec.defaultOrder}`;
    queue = { pending: null, running: 0, scheduled: false, text, rowKey: column.sql.replace(/^.*\."?|"$/g, "") };
    perSelect.set(column.sql, queue);
  }
  const batch = (queue.pending ??= new Map());
  const waiters = batch.get(value) ?? [];
  batch.set(value, waiters);
  const promise = new Promise<unknown[]>((resolve, reject) => waiters.push({ resolve, reject }));
  scheduleBatch(db, spec, column, queue);
  return promise;
}

/** Send the gathered lookups after this event-loop turn, unless enough batches are running already. */
function scheduleBatch<Row, Entry>(db: Db, spec: EntitySpec<Row, Entry>, column: Lookup["column"], queue: LookupQueue): void {
  if (queue.scheduled || queue.running >= MAX_RUNNING_BATCHES || !queue.pending) return;
  queue.scheduled = true;
  setImmediate(() => {
    queue.scheduled = false;
    const batch = queue.pending;
    if (!batch) return;
    queue.pending = null;
    queue.running++;
    void runLookups(db, spec, column, queue, batch).finally(() => {
      queue.running--;
      scheduleBatch(db, spec, column, queue);
    });
  });
}

async function runLookups<Row, Entry>(db: Db, spec: EntitySpec<Row, Entry>, column: Lookup["column"], queue: LookupQueue, batch: Map<string | number, Waiter[]>): Promise<void> {
  try {
    // A lookup by a unique key: its plan is the same whatever the values (generic, see readKeyLookup).
    const rows = await readKeyLookup<Row>(db, queue.text, [[...batch.keys()]]);
    const entries = await spec.build(rows);
    const byValue = new Map<string | number, Entry[]>();
    rows.forEach((r, i) => {
      const v = (r as Record<string, unknown>)[queue.rowKey];
      const k = column.kind === "text" ? String(v) : Number(v);
      byValue.set(k, [...(byValue.get(k) ?? []), entries[i]]);
    });
    for (const [value, waiters] of batch) {
      const found = byValue.get(value) ?? [];
      // Each caller its own copy beyond the first: a result may be changed (or frozen) by its caller.
      waiters.forEach((w, i) => w.resolve(i === 0 ? found : structuredClone(found)));
    }
  } catch (err) {
    for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
  }
}

// ---- SQLite: statements at once, rows of one shape ------------------------------------------
//
// On SQLite a page's statements run at once on the store's connection when no transaction is open
// there (freeSqliteHandle: a read then sees what a queued one would), from statements prepared per
// connection, instead of through Kysely's executeQuery (its connection lock and promise hops);
// otherwise, or if the statement is refused at once, the usual way.
//
// Rows come as arrays and become objects through a function made once per statement from its
// column names (an object literal: one fast shape). better-sqlite3's own row objects take their
// columns one by one and fall into dictionary mode past a few dozen: a user row (41 columns) cost
// ~2.3 kB against ~1.1 kB so (measured at 1,000,000 users), with slow property reads after — the
// garbage whose collections set the tail of a page of 50 users and of a lookup.

interface RawStatement {
  st: BetterSqlite.Statement;
  make: (values: unknown[]) => unknown;
}

/** Column names are the statement's own (our SQL's), quoted: a literal of them builds the row. */
function rowMaker(columns: string[]): ((values: unknown[]) => unknown) | null {
  // A quoted "__proto__" key would set the prototype, not a property.
  if (columns.includes("__proto__")) return null;
  return new Function("v", `return {${columns.map((c, i) => `${JSON.stringify(c)}: v[${i}]`).join(", ")}};`) as (values: unknown[]) => unknown;
}

function rawStatement(raw: BetterSqlite.Database, text: string): RawStatement | null {
  const st = raw.prepare(text);
  if (!st.reader) return null;
  const make = rowMaker(st.columns().map((c) => c.name));
  if (!make) return null;
  st.raw(true);
  return { st, make };
}

function rowsOf<Row>(s: RawStatement, params: readonly unknown[]): Row[] {
  const arrays = s.st.all(params) as unknown[][];
  const rows = new Array<Row>(arrays.length);
  for (let i = 0; i < arrays.length; i++) rows[i] = s.make(arrays[i]!) as Row;
  return rows;
}

/** Per connection: statements by text, the most recently prepared last (a page's text has its LIMIT). */
const rawStatements = new WeakMap<BetterSqlite.Database, Map<string, RawStatement | null>>();
const RAW_STATEMENTS_KEPT = 256;

/** SQLite: `text`'s rows now, or null when they cannot be read so (see above). */
function rowsNow<Row>(db: Db, text: string, params: readonly unknown[]): Row[] | null {
  const raw = freeSqliteHandle(db);
  if (!raw) return null;
  let byText = rawStatements.get(raw);
  if (!byText) rawStatements.set(raw, (byText = new Map()));
  try {
    let s = byText.get(text);
    if (s === undefined) {
      s = rawStatement(raw, text);
      byText.set(text, s);
      if (byText.size > RAW_STATEMENTS_KEPT) byText.delete(byText.keys().next().value as string);
    }
    return s ? rowsOf<Row>(s, params) : null;
  } catch {
    // Refused at once (the connection busy with a streamed read): the usual way.
    return null;
  }
}

/** A page's rows: at once on SQLite when it can be, else through Kysely. */
async function pageRows<Row>(db: Db, dialect: Dialect, text: string, params: unknown[]): Promise<Row[]> {
  const now = dialect === "sqlite" ? rowsNow<Row>(db, text, params) : null;
  return now ?? (await db.executeQuery<Row>(CompiledQuery.raw(text, params))).rows;
}

// Lookups (`[[field, "=", value]]`, no options) skip the planner and the compilation too: the
// statement of each shape is kept per connection under the spec's constant select text and the
// column (a text built per call would be hashed whole at every lookup).
const sqliteLookups = new WeakMap<BetterSqlite.Database, Map<string, Map<string, RawStatement | null>>>();

function lookupNow<Row, Entry>(db: Db, spec: EntitySpec<Row, Entry>, lookup: Lookup): Row[] | null {
  const raw = freeSqliteHandle(db);
  if (!raw) return null;
  let perSelect = sqliteLookups.get(raw);
  if (!perSelect) sqliteLookups.set(raw, (perSelect = new Map()));
  let perColumn = perSelect.get(spec.selectSql);
  if (!perColumn) perSelect.set(spec.selectSql, (perColumn = new Map()));
  try {
    let s = perColumn.get(lookup.column.sql);
    if (s === undefined) {
      // The text runEntityQuery builds for this filter: `+` keeps SQLite on the column's index.
      s = rawStatement(raw, `${spec.selectSql} WHERE (${lookup.column.sql} = ?) ORDER BY +${spec.defaultOrder}`);
      perColumn.set(lookup.column.sql, s);
    }
    return s ? rowsOf<Row>(s, [lookup.value]) : null;
  } catch {
    return null;
  }
}

export async function runEntityQuery<Row, Entry>(db: Db, dialect: Dialect, spec: EntitySpec<Row, Entry>, args: QueryArgs): Promise<unknown> {
  const filtersAttr = args.attrs?.filters ?? "filters";
  const filters = parseFilters(args.filters, filtersAttr);
  // A typo'd field would otherwise silently match nothing (or everything, with !=).
  let unknown: ValidationErrors | null = null;
  for (let i = 0; i < filters.length; i++) {
    for (const field of filterFields([filters[i]!])) {
      if (!spec.fields.has(field)) (unknown ??= new ValidationErrors()).add(`${filtersAttr}.${i}`, `${field}: unknown field`, "query.unknown_field");
    }
  }
  unknown?.check();
  const opts = parseOptions(args.options, args.attrs?.options ?? "options");
  const lookup = batchableLookup(spec, filters, opts);
  if (lookup && dialect === "postgres") return batchedLookup(db, spec, lookup.column, lookup.value);
  const now = lookup ? lookupNow(db, spec, lookup) : null;
  if (now) return spec.build(now);
  const plan = spec.search ? await planSearch(db, dialect, spec.search, planInput(filters, opts, spec.search)) : null;
  const compiled = compileFilters(filters, spec.columns, dialect, (plan?.params.length ?? 0) + 1);
  const conditions = [plan?.where ? `(${numberPlaceholders(plan.where, dialect, 1)})` : null, compiled.where].filter(Boolean);
  const whereSql = conditions.length ? ` WHERE ${conditions.join(" AND ")}` : "";
  const params = [...(plan?.params ?? []), ...compiled.params];
  const inMemory = compiled.residual.length > 0;
  const orderSql = compileOrderBy(opts.order_by, spec.columns, dialect);

  // Everything decided in SQL: a count needs no entries at all.
  if (!inMemory && opts.count) {
    const r = await db.executeQuery<{ n: number | string }>(CompiledQuery.raw(`${spec.countSql}${whereSql}`, params));
    return Number(r.rows[0]?.n ?? 0);
  }

  const sortedInSql = orderSql !== null;
  // With a WHERE, SQLite would otherwise walk the id index to honour the tiebreaker order and
  // test every row, instead of using the filter's index (e.g. username) and sorting the few
  // matches; a unary `+` keeps it from using the index for ordering.
  const tiebreak = dialect === "sqlite" && whereSql ? `+${spec.defaultOrder}` : spec.defaultOrder;
  const order = orderSql ? `${orderSql}, ${tiebreak}` : tiebreak;
  let text = `${spec.selectSql}${whereSql} ORDER BY ${order}`;
  const pagedInSql = !inMemory && sortedInSql && (opts.limit > 0 || opts.offset > 0 || opts.get);
  if (pagedInSql) {
    // Literal integers (validated by parseOptions): SQLite runs a bound LIMIT markedly slower.
    const limit = opts.get ? 1 : opts.limit;
    let page = dialect === "postgres" ? ` LIMIT ${limit > 0 ? limit : "ALL"}` : ` LIMIT ${limit > 0 ? limit : -1}`;
    if (opts.offset) page += ` OFFSET ${Math.trunc(opts.offset)}`;
    text += page;
    if (plan && spec.search && dialect === "sqlite") {
      // SQLite computes every selected column (the aggregated groups and keys) before it sorts:
      // sort the index's candidates by id alone, then read the page's rows; `via`: the ids come
      // from walking a covering index in the page's order (src/store/query-search.ts).
      const { idSql, table } = spec.search;
      const from = plan.via ? `"${table}" INDEXED BY ${plan.via}` : `"${table}"`;
      text = `${spec.selectSql} WHERE ${idSql} IN (SELECT ${idSql} FROM ${from}${whereSql} ORDER BY ${order}${page}) ORDER BY ${order}`;
    }
  }
  if (inMemory && sortedInSql && (opts.limit > 0 || opts.get)) {
    // Filters left for memory, but SQL can order: read ordered chunks until the page is full
    // instead of building an entry for every row the SQL prefilter let through (a (?i) search on
    // PostgreSQL keeps an exact re-check in memory and would otherwise build thousands).
    const want = opts.get ? 1 : opts.offset + opts.limit;
    const matched: Entry[] = [];
    // The index's candidates nearly all match (only non-ASCII text can fail the re-check): one
    // page's worth first, not entries built for rows the page does not need.
    let chunk = plan?.where ? want : Math.max(2 * want, 100);
    for (let dbOffset = 0; ; ) {
      const page = ` LIMIT ${chunk} OFFSET ${dbOffset}`;
      const rows = await pageRows<Row>(db, dialect, text + page, params);
      for (const e of await spec.build(rows)) if (matchRow(e, compiled.residual)) matched.push(e);
      if (matched.length >= want || rows.length < chunk) break;
      dbOffset += rows.length;
      chunk *= 4;
    }
    return applyOptions(matched, opts, { sorted: true });
  }
  const rows = await pageRows<Row>(db, dialect, text, params);
  let entries = await spec.build(rows);
  if (inMemory) entries = entries.filter((e) => matchRow(e, compiled.residual));
  if (pagedInSql) {
    // The page is already cut; `get` still wants a single object (or MatchNotFound).
    return applyOptions(entries, { ...opts, offset: 0, limit: 0 }, { sorted: true, paged: true });
  }
  // Filtering in memory keeps the SQL order.
  return applyOptions(entries, opts, { sorted: sortedInSql });
}
