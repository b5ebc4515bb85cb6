import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import Database from "better-sqlite3";
import fc from "fast-check";
import pg from "pg";

import { CallError, ERRNO, ValidationErrors } from "../server/errors.js";
import {
  applyOptions,
  type ColumnMap,
  compileFilters,
  compileOrderBy,
  type Dialect,
  type Filter,
  filterFields,
  matchRow,
  parseFilters,
  parseOptions,
  pythonRegexToJs,
  registerSqliteFunctions,
  sortRows,
  sqliteRegexpFunction,
} from "./query.js";

const RUNS = Number(process.env.QUERY_FC_RUNS ?? 300);

const match = (row: unknown, raw: unknown[]): boolean => matchRow(row, parseFilters(raw));

function validationErrors(fn: () => unknown): [string, string, number][] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ValidationErrors, `expected ValidationErrors, got ${String(e)}`);
    return e.errors;
  }
  assert.fail("expected a validation error");
}

// ------------------------------------------------------------------------------------------------
// Parsing

test("parseFilters: malformed filters name the index", () => {
  const errs = validationErrors(() =>
    parseFilters([["a", "=", 1], ["a", "like", 1], ["a", "="], "x", ["AND", []], ["OR", []], ["a", "in", "abc"], ["a", "~", "(unclosed"], ["a", "~", 5], [1, "=", 1]]),
  );
  assert.deepEqual(
    errs.map(([a, m]) => [a, m.split(":")[0]]),
    [
      ["filters.1", "Invalid operator"],
      ["filters.2", "Invalid operator"], // a 2-element filter must be an OR
      ["filters.3", "Invalid filter"],
      ["filters.4", "Invalid operator"],
      ["filters.5", "OR filter requires at least one branch."],
      ["filters.6", "Invalid filter"],
      ["filters.7", "Invalid regular expression"],
      ["filters.8", "Invalid regular expression"],
      ["filters.9", "Invalid filter"],
    ],
  );
  assert.equal(errs[0][1], "Invalid operator: like");
  assert.ok(errs.every(([, , errno]) => errno === ERRNO.EINVAL));
  assert.deepEqual(
    validationErrors(() => parseFilters({}, "query-filters")),
    [["query-filters", "Input should be a valid list", ERRNO.EINVAL]],
  );
  assert.deepEqual(parseFilters(undefined), []);
});

test("parseFilters: $date usage is validated", () => {
  const errs = validationErrors(() =>
    parseFilters([
      ["t.$date", "in", ["2024-01-01"]],
      ["t.$date", ">", "yesterday"],
      ["t.$date", ">", 12],
      ["t.$date", "C=", "2024-01-01"],
    ]),
  );
  assert.deepEqual(
    errs.map(([a, m]) => [a, m]),
    [
      ["filters.0", "in: invalid timestamp operation."],
      ["filters.1", "yesterday: must be an ISO-8601 formatted timestamp string"],
      ["filters.2", "12: must be an ISO-8601 formatted timestamp string"],
      ["filters.3", "C=: invalid timestamp operation."],
    ],
  );
  const [leaf] = parseFilters([["t.$date", ">=", "2024-01-02T03:04:05.5+01:00"]]);
  assert.deepEqual(leaf, { path: ["t"], op: ">=", value: Date.UTC(2024, 0, 2, 2, 4, 5, 500), ci: false });
});

test("parseFilters: OR nesting and filterFields", () => {
  const f = parseFilters([
    [
      "OR",
      [
        [
          ["local", "=", true],
          [
            "OR",
            [
              ["builtin", "=", false],
              ["username", "=", "root"],
            ],
          ],
        ],
        ["local", "=", false],
      ],
    ],
    ["group.bsdgrp_gid", "=", 3000],
  ]);
  assert.deepEqual(filterFields(f), ["local", "builtin", "username", "group"]);
  let deep: unknown = ["a", "=", 1];
  for (let i = 0; i < 20; i++) deep = ["OR", [deep]];
  assert.match(validationErrors(() => parseFilters([deep]))[0][1], /max recursion depth/);
});

// ------------------------------------------------------------------------------------------------
// In-memory semantics

test("matchRow: comparison operators follow Python", () => {
  const row = { s: "abc", n: 5, b: true, z: null, l: ["x", "Y"], o: { k: 1 }, e: "" };
  const cases: [unknown[], boolean][] = [
    [["n", "=", 5], true],
    [["n", "=", 5.0], true],
    [["b", "=", 1], true], // bool is an int in Python
    [["n", "=", "5"], false],
    [["z", "=", null], true],
    [["z", "!=", null], false],
    [["s", "!=", null], true],
    [["missing", "!=", 1], false], // absent keys never match
    [["n", ">", 4], true],
    [["n", ">", null], false],
    [["z", "<", 1], false],
    [["s", ">", "abb"], true],
    [["s", "<", 1], false],
    [["b", ">", 0], true],
    [["s", "C=", "ABC"], true],
    [["s", "C!=", "ABC"], false],
    [["s", "in", ["abc", 1]], true],
    [["z", "in", [null]], true],
    [["z", "nin", [1]], false], // null never matches nin
    [["s", "nin", ["x"]], true],
    [["s", "Cin", ["ABC"]], true],
    [["l", "rin", "x"], true],
    [["l", "Crin", "y"], true],
    [["l", "rnin", "y"], true],
    [["s", "rin", "bc"], true],
    [["s", "rin", 1], false], // TypeError in Python
    [["s", "rnin", 1], false],
    [["z", "rin", "a"], false],
    [["z", "rnin", "a"], false],
    [["o", "rin", "k"], true],
    [["s", "^", "ab"], true],
    [["s", "!^", "ab"], false],
    [["s", "$", "bc"], true],
    [["s", "!$", "bc"], false],
    [["s", "C^", "AB"], true],
    [["z", "!^", "x"], false],
    [["z", "!$", "x"], false],
    [["n", "^", "5"], false],
    [["l", "=", ["x", "Y"]], true],
    [["l", ">", ["x"]], true],
    [["o", "=", { k: 1 }], true],
  ];
  for (const [f, expected] of cases) assert.equal(match(row, [f]), expected, JSON.stringify(f));
});

test("matchRow: regex is re.match (anchored at start only), null is empty", () => {
  const row = { s: "Hello world", z: null, n: 0, m: 7, multi: "a\nb", cr: "a\rb" };
  const cases: [unknown[], boolean][] = [
    [["s", "~", "Hel"], true],
    [["s", "~", "world"], false],
    [["s", "~", ".*world"], true],
    [["s", "~", "Hello$"], false],
    [["s", "~", "Hello world\\Z"], true],
    [["s", "~", "(?i)hello"], true],
    [["s", "C~", "HELLO"], true],
    [["s", "~", "hello"], false],
    [["z", "~", ""], true],
    [["z", "~", "^$"], true],
    [["z", "~", "a"], false],
    [["n", "~", ""], true], // 0 or "" → ""
    [["m", "~", ""], false], // TypeError in Python
    [["multi", "~", "a$"], false],
    [["multi", "~", "a.b"], false], // `.` does not match newline
    [["multi", "~", "(?s)a.b"], true],
    [["cr", "~", "a.b"], true], // Python's `.` only excludes "\n"
    [["multi", "~", "(?m)a$"], true],
    [["s", "~", "(?P<w>l)"], false],
    [["s", "~", "He(?P<w>l)(?P=w)o"], true],
    [["s", "~", "\\w+\\s\\w+\\Z"], true],
  ];
  for (const [f, expected] of cases) assert.equal(match(row, [f]), expected, JSON.stringify(f));
  assert.equal(match({ s: "a\n" }, [["s", "~", "a$"]]), true); // Python `$` matches before a final newline
  assert.equal(match({ s: "é" }, [["s", "~", "\\w"]]), true); // Unicode \w like Python
  assert.equal(match({ s: "١" }, [["s", "~", "\\d"]]), true);
  assert.equal(match({ s: "x{}" }, [["s", "~", "x{}"]]), true); // `{` not forming a repeat is literal
});

test("matchRow: paths with escapes, indexes and wildcards", () => {
  const row = {
    "a.b": 1,
    group: { bsdgrp_gid: 3000 },
    local_groups: [{ name: "wheel" }, { name: "staff", tags: ["x"] }],
    scalar: "v",
    nullish: null,
  };
  assert.equal(match(row, [["a\\.b", "=", 1]]), true);
  assert.equal(match(row, [["group.bsdgrp_gid", "=", 3000]]), true);
  assert.equal(match(row, [["local_groups.1.name", "=", "staff"]]), true);
  assert.equal(match(row, [["local_groups.5.name", "=", null]]), true); // out of range → None
  assert.equal(match(row, [["local_groups.*.name", "=", "staff"]]), true);
  assert.equal(match(row, [["local_groups.*.name", "=", "nobody"]]), false);
  assert.equal(match(row, [["local_groups.*.tags.*", "=", "x"]]), true);
  assert.equal(match(row, [["local_groups.*.name", "!=", "wheel"]]), true); // any element
  assert.equal(match(row, [["local_groups.x", "=", 1]]), false);
  assert.equal(match(row, [["nullish.deeper", "=", null]]), true);
  assert.equal(match(row, [["group.missing", "!=", 1]]), false);
});

test("matchRow: datetimes in any form compare as instants", () => {
  const ms = Date.UTC(2024, 5, 1);
  for (const t of [ms, new Date(ms), { $date: ms }]) {
    const row = { t, nothing: null };
    assert.equal(match(row, [["t.$date", ">", "2024-05-31T23:59:59"]]), true);
    assert.equal(match(row, [["t.$date", "=", "2024-06-01T00:00:00Z"]]), true);
    assert.equal(match(row, [["t.$date", "<", "2024-06-01T01:00:00+02:00"]]), false);
    assert.equal(match(row, [["t", "=", new Date(ms)]]), true);
    assert.equal(match(row, [["t", ">=", { $date: ms }]]), true);
    assert.equal(match(row, [["t", "in", [new Date(ms)]]]), true);
    assert.equal(match(row, [["nothing.$date", ">", "2024-01-01"]]), false);
  }
});

test("pythonRegexToJs translates Python syntax and caches", () => {
  assert.equal(pythonRegexToJs("(?i)ab").flags.includes("i"), true);
  assert.equal(pythonRegexToJs("(?P<n>a)\\Z").test("a"), true);
  assert.equal(pythonRegexToJs("\\Aab").test("ab"), true);
  assert.equal(pythonRegexToJs("a{,2}b").test("aab"), true);
  assert.strictEqual(pythonRegexToJs("x+"), pythonRegexToJs("x+"));
  for (const bad of ["\\q", "a(?i)b", "(?x)a", "[a", "a**", "(?<n>a)", "\\"]) {
    assert.throws(() => pythonRegexToJs(bad), Error, bad);
  }
  assert.equal(sqliteRegexpFunction("(?i)AB", "abc"), 1);
  assert.equal(sqliteRegexpFunction("b", "abc"), 0);
  assert.equal(sqliteRegexpFunction("", null), 1);
});

// ------------------------------------------------------------------------------------------------
// Options

test("parseOptions: defaults, types and unknown keys", () => {
  assert.deepEqual(parseOptions(undefined), {
    order_by: [],
    select: null,
    count: false,
    get: false,
    offset: 0,
    limit: 0,
    extra: {},
    force_sql_filters: false,
  });
  const o = parseOptions({ order_by: ["-uid"], select: ["id", ["uid", "u"]], limit: 10000, offset: 3, extra: { x: 1 } });
  assert.deepEqual([o.order_by, o.select, o.limit, o.offset, o.extra], [["-uid"], ["id", ["uid", "u"]], 10000, 3, { x: 1 }]);
  const errs = validationErrors(() => parseOptions({ bogus: 1, count: "yes", limit: 10001, offset: -1, order_by: [1], select: [["a"]], extend: "x" }, "query-options"));
  assert.deepEqual(
    errs.map(([a]) => a),
    ["query-options.bogus", "query-options.count", "query-options.limit", "query-options.offset", "query-options.order_by.0", "query-options.select.0", "query-options.extend"],
  );
  assert.equal(errs[0][1], "Extra inputs are not permitted");
  assert.deepEqual(
    validationErrors(() => parseOptions({ get: true, limit: 2 })).map(([a]) => a),
    ["options"],
  );
  assert.deepEqual(
    validationErrors(() => parseOptions([])).map(([a]) => a),
    ["options"],
  );
});

test("applyOptions: order_by, paging, select, count and get", () => {
  const rows = [
    { id: 1, name: "b", uid: 2, g: { gid: 20 } },
    { id: 2, name: "a", uid: null, g: { gid: 10 } },
    { id: 3, name: "c", uid: 1, g: { gid: 10 } },
  ];
  const ids = (opts: object): unknown => (applyOptions(rows, parseOptions(opts)) as { id: number }[]).map((r) => r.id);
  assert.deepEqual(ids({ order_by: ["name"] }), [2, 1, 3]);
  assert.deepEqual(ids({ order_by: ["-name"] }), [3, 1, 2]);
  assert.deepEqual(ids({ order_by: ["uid"] }), [2, 3, 1]); // nulls first ascending
  assert.deepEqual(ids({ order_by: ["-uid"] }), [1, 3, 2]); // and last descending
  assert.deepEqual(ids({ order_by: ["nulls_last:uid"] }), [3, 1, 2]);
  assert.deepEqual(ids({ order_by: ["nulls_first:-uid"] }), [2, 1, 3]);
  assert.deepEqual(ids({ order_by: ["g.gid", "-name"] }), [3, 2, 1]); // first key most significant
  assert.deepEqual(ids({ order_by: ["name"], offset: 1, limit: 1 }), [1]);
  assert.deepEqual(ids({ offset: 5 }), []);
  assert.equal(applyOptions(rows, parseOptions({ count: true, limit: 1 })), 3);
  assert.deepEqual(applyOptions(rows, parseOptions({ get: true, order_by: ["-uid"], select: ["name"] })), { name: "b" });
  assert.deepEqual(applyOptions(rows, parseOptions({ select: ["g.gid", ["name", "n"], "nope"], limit: 1 })), [{ g: { gid: 20 }, n: "b" }]);
  assert.deepEqual(rows[0].g, { gid: 20 }); // projections never share mutable state with rows
  assert.throws(
    () => applyOptions([], parseOptions({ get: true })),
    (e: unknown) => e instanceof CallError && e.message === "MatchNotFound()" && e.errno === ERRNO.ENOENT,
  );
  assert.deepEqual(applyOptions(rows.slice(0, 1), parseOptions({ limit: 1, offset: 1 }), { paged: true, sorted: true }), [rows[0]]);
});

// ------------------------------------------------------------------------------------------------
// SQL compilation

const COLUMNS: ColumnMap = {
  name: { sql: "t.name", kind: "text" },
  tag: { sql: "t.tag", kind: "text" },
  uid: { sql: "t.uid", kind: "int" },
  flag: { sql: "t.flag", kind: "bool" },
  ts: { sql: "t.ts", kind: "datetime" },
  meta: { sql: "t.meta", kind: "json" },
};

test("compileFilters: plain filters and OR groups compile fully, others stay residual", () => {
  const f = parseFilters([
    [
      "OR",
      [
        [
          ["name", "=", "root"],
          ["uid", ">=", 0],
        ],
        ["flag", "=", true],
      ],
    ],
    ["ts.$date", "<", "2024-01-01"],
    ["name", "~", "(?i)ro"],
    ["meta.x", "=", 1],
    [
      "OR",
      [
        ["uid", "=", 1],
        ["meta", "=", 1],
      ],
    ],
  ]);
  const sqlite = compileFilters(f, COLUMNS, "sqlite");
  assert.equal(
    sqlite.where,
    "(((t.name = ?) AND (t.uid >= ?)) OR ((t.flag = ?))) AND (t.ts < ?) AND " +
      "(CASE WHEN length(t.name) <> length(CAST(t.name AS BLOB)) THEN regexp(?, COALESCE(t.name, '')) " +
      "ELSE COALESCE(t.name, '') LIKE ? ESCAPE '\\' END)",
  );
  assert.deepEqual(sqlite.params, ["root", 0, 1, Date.UTC(2024, 0, 1), "(?i)ro", "ro%"]);
  assert.deepEqual(sqlite.residual, [f[3], f[4]]);
  const pgc = compileFilters(f.slice(0, 2), COLUMNS, "postgres", 3);
  assert.match(pgc.where!, /t\.name = \$3::text.*t\.uid >= \$4::bigint.*t\.flag = \$5::bigint.*t\.ts < \$6::bigint/);
  assert.deepEqual(pgc.residual, []);
  assert.deepEqual(compileFilters([], COLUMNS, "sqlite"), { where: null, params: [], residual: [] });
  // Case-insensitive text in PostgreSQL: pushed down as a superset and re-checked in memory.
  const ci = parseFilters([["name", "C=", "Root"]]);
  assert.deepEqual(compileFilters(ci, COLUMNS, "postgres").residual, ci);
});

test("compileOrderBy mirrors the in-memory sort", () => {
  assert.equal(compileOrderBy(["-name", "nulls_last:uid", "nulls_first:-ts"], COLUMNS, "postgres"), 't.name COLLATE "C" DESC NULLS LAST, t.uid ASC NULLS LAST, t.ts DESC NULLS FIRST');
  assert.equal(compileOrderBy(["uid"], COLUMNS, "sqlite"), "t.uid ASC NULLS FIRST");
  assert.equal(compileOrderBy(["meta"], COLUMNS, "sqlite"), null);
  assert.equal(compileOrderBy(["g.gid"], COLUMNS, "sqlite"), null);
  assert.equal(compileOrderBy([], COLUMNS, "sqlite"), "");
  // A NOT NULL column sorts the same either way: no NULLS clause (PostgreSQL's index order).
  const notNull: ColumnMap = { uid: { sql: "t.uid", kind: "int", notNull: true }, name: { sql: "t.name", kind: "text", notNull: true } };
  assert.equal(compileOrderBy(["uid", "-name", "nulls_last:uid"], notNull, "postgres"), 't.uid ASC, t.name COLLATE "C" DESC, t.uid ASC');
  assert.equal(compileOrderBy(["name:ci"], notNull, "sqlite"), "lower(t.name) ASC");
});

// ------------------------------------------------------------------------------------------------
// Differential tests: SQL push-down + residual must select exactly what matchRow selects.

interface Row {
  id: number;
  name: string | null;
  tag: string | null;
  uid: number | null;
  flag: boolean | null;
  ts: number | Date | { $date: number } | null;
  meta: { x: string };
  groups: { name: string }[];
}

// Strings chosen to hit the edge cases: case folding (ß/SS, ſ, the Kelvin sign, É, ligatures),
// LIKE/GLOB and regex metacharacters, newlines and astral characters. Most values come from a
// small pool so that filters and rows actually collide.
const POOL = ["", "a", "A", "ab", "AB", "aB", "b", "ss", "SS", "ß", "\u212a", "k", "K", "ſ", "s", "é", "É", "a%", "a_b", "%", "_", "*", "?a", "[a]", "a\\b", "a.b", "a\nb", "😀", "a😀", "ﬀ", "ff"];
const CHARS = ["a", "b", "A", "k", "K", "s", "S", "ß", "é", "É", "\u212a", "ſ", "%", "_", "*", "?", "[", "]", "\\", ".", "\n", " ", "😀", "0"];
const str = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...POOL) }, { weight: 1, arbitrary: fc.array(fc.constantFrom(...CHARS), { maxLength: 4 }).map((a) => a.join("")) });
const ms = fc.integer({ min: 0, max: 3 }).map((n) => n * 1000);
const tsValue = fc.oneof(
  ms,
  ms.map((n) => new Date(n)),
  ms.map((n) => ({ $date: n })),
);
const numeric = fc.oneof(fc.integer({ min: -2, max: 3 }), fc.constantFrom(0.5, 1.5), fc.boolean(), tsValue);
const other = fc.oneof(str, numeric, fc.constant(null));
const valueFor = (text: boolean): fc.Arbitrary<unknown> => fc.oneof({ weight: 4, arbitrary: text ? str : numeric }, { weight: 1, arbitrary: other });

/** Patterns the translator accepts (generators drop the ones it refuses). */
function translatable(p: string): boolean {
  try {
    pythonRegexToJs(p);
    return true;
  } catch {
    return false;
  }
}

const REGEX_PARTS = [
  "a",
  "A",
  "b",
  "k",
  "ss",
  "K",
  "\u212a",
  "ſ",
  "s",
  "ß",
  "é",
  "😀",
  ".",
  ".*",
  "\\.",
  "%",
  "_",
  "\\*",
  "[ab]",
  "[^a]",
  "[a-c]",
  "(a|b)",
  "x?",
  "a+",
  "\\d",
  "\\w",
  "\\s",
  "$",
  "\\Z",
  "^",
  "(?:ab)*",
  "\\n",
  "b{1,2}",
  "\\\\",
];
const pattern = fc
  .tuple(fc.constantFrom("", "", "(?i)", "(?i)", "(?s)", "^"), fc.array(fc.constantFrom(...REGEX_PARTS), { maxLength: 3 }))
  .map(([prefix, parts]) => prefix + parts.join(""))
  .filter(translatable);

const FIELDS = ["name", "name", "name", "tag", "uid", "uid", "flag", "ts", "ts", "meta.x", "groups.*.name", "nope"];
const TEXT_FIELDS = new Set(["name", "tag", "meta.x", "groups.*.name", "nope"]);
const OPS = ["=", "!=", ">", ">=", "<", "<=", "~", "in", "nin", "rin", "rnin", "^", "!^", "$", "!$"];
const leafArb: fc.Arbitrary<unknown[]> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.tuple(fc.constantFrom(...FIELDS), fc.constantFrom(...OPS), fc.boolean()).chain(([field, op, ci]) => {
      const scalar = valueFor(TEXT_FIELDS.has(field));
      const value = op === "~" ? pattern : op === "in" || op === "nin" ? fc.array(scalar, { maxLength: 3 }) : scalar;
      return value.map((v) => [field, ci ? `C${op}` : op, v]);
    }),
  },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom("=", "!=", ">", ">=", "<", "<="), ms).map(([op, t]) => ["ts.$date", op, new Date(t + 500).toISOString().replace("Z", "")]) },
);
const { filter: filterArb } = fc.letrec<{ filter: unknown[] }>((tie) => ({
  filter: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leafArb,
    fc.array(fc.oneof(tie("filter"), fc.array(tie("filter"), { minLength: 1, maxLength: 3 })), { minLength: 1, maxLength: 3 }).map((branches) => ["OR", branches]),
  ),
}));
const filtersArb = fc.array(filterArb, { maxLength: 3 });

const rowsArb = fc
  .array(
    fc.record({
      name: fc.option(str, { nil: null }),
      tag: fc.option(str, { nil: null }),
      uid: fc.option(fc.integer({ min: -2, max: 3 }), { nil: null }),
      flag: fc.option(fc.boolean(), { nil: null }),
      ts: fc.option(tsValue, { nil: null }),
      meta: fc.record({ x: str }),
      groups: fc.array(fc.record({ name: str }), { maxLength: 2 }),
    }),
    { maxLength: 25 },
  )
  .map((rows) => rows.map((r, i): Row => ({ id: i + 1, ...r })));

function dbValues(r: Row): unknown[] {
  const ts = r.ts === null ? null : r.ts instanceof Date ? r.ts.getTime() : typeof r.ts === "number" ? r.ts : r.ts.$date;
  return [r.id, r.name, r.tag, r.uid, r.flag === null ? null : Number(r.flag), ts, JSON.stringify(r.meta)];
}

const sortedIds = (ids: Iterable<number>): number[] => [...ids].sort((a, b) => a - b);

// Every single-leaf filter over the near-miss pool, against rows holding every pool value: rare
// combinations (C= "ss" vs "ß", (?i)k vs the Kelvin sign, LIKE metacharacters) are always covered.
const SWEEP_VALUES: unknown[] = [...POOL, null, 0, 1, -1, 2, 0.5, true, false, new Date(1000), { $date: 2000 }];
const SWEEP_PATTERNS = [...POOL, ...REGEX_PARTS].flatMap((p) => [p, `(?i)${p}`, `${p}\\Z`, `.*${p}`, `${p}.*`, `^${p}`]).filter(translatable);
const SWEEP_ROWS: Row[] = [...POOL, null].map((v, i) => ({
  id: i + 1,
  name: v,
  tag: typeof v === "string" ? v.toUpperCase() : null,
  uid: i % 7 === 6 ? null : (i % 6) - 2,
  flag: i % 3 === 2 ? null : i % 3 === 0,
  ts: [null, 0, new Date(1000), { $date: 2000 }, 3000][i % 5],
  meta: { x: "" },
  groups: [],
}));
function sweepFilters(): unknown[][] {
  const out: unknown[][] = [];
  for (const field of ["name", "uid", "flag", "ts"]) {
    for (const op of OPS) {
      for (const c of ["", "C"]) {
        const values = op === "~" ? SWEEP_PATTERNS : op === "in" || op === "nin" ? SWEEP_VALUES.flatMap((v) => [[v], [v, null]]) : SWEEP_VALUES;
        for (const v of values) out.push([field, c + op, v]);
      }
    }
  }
  return out;
}

/** Run the property against one database; `select` returns ids matching a WHERE clause. */
async function differential(
  dialect: Dialect,
  load: (rows: Row[]) => Promise<void>,
  select: (where: string, params: unknown[]) => Promise<number[]>,
  orderIds: (orderBy: string) => Promise<number[]>,
): Promise<{ fullyCompiled: number; pushed: number; runs: number }> {
  let fullyCompiled = 0;
  let pushed = 0;
  let runs = 0;
  const check = async (rows: Row[], filters: Filter[], loaded = false): Promise<void> => {
    const expected = rows.filter((r) => matchRow(r, filters)).map((r) => r.id);
    const { where, params, residual } = compileFilters(filters, COLUMNS, dialect);
    if (!loaded) await load(rows);
    const fromSql = new Set(await select(where ?? "1=1", params));
    const actual = rows.filter((r) => fromSql.has(r.id) && matchRow(r, residual)).map((r) => r.id);
    assert.deepEqual(sortedIds(actual), sortedIds(expected), `where: ${where}\nparams: ${JSON.stringify(params)}`);
    runs++;
    if (residual.length === 0 && filters.length > 0) fullyCompiled++;
    if (where !== null) pushed++;
  };

  await load(SWEEP_ROWS);
  for (const raw of sweepFilters()) {
    const filters = parseFilters([raw]);
    try {
      await check(SWEEP_ROWS, filters, true);
    } catch (e) {
      throw new Error(`${JSON.stringify(raw)}: ${(e as Error).message}`);
    }
  }

  await fc.assert(
    fc.asyncProperty(rowsArb, filtersArb, async (rows, raw) => {
      await check(rows, parseFilters(raw));
    }),
    { numRuns: RUNS },
  );

  const orderKeys = fc.constantFrom(
    "name",
    "-name",
    "tag",
    "uid",
    "-uid",
    "flag",
    "ts",
    "-ts",
    "nulls_last:uid",
    "nulls_first:-name",
    "nulls_last:-ts",
    "nulls_first:flag",
    "name:ci",
    "-tag:ci",
    "nulls_last:-name:ci",
    "uid:ci",
  );
  await fc.assert(
    fc.asyncProperty(rowsArb, fc.array(orderKeys, { minLength: 1, maxLength: 3 }), async (rows, orderBy) => {
      await load(rows);
      const sql = compileOrderBy(orderBy, COLUMNS, dialect);
      assert.ok(sql);
      // Rows are generated in id order, so the stable in-memory sort breaks ties by id too.
      assert.deepEqual(
        await orderIds(`${sql}, t.id`),
        sortRows(rows, orderBy).map((r) => r.id),
        sql,
      );
    }),
    { numRuns: Math.ceil(RUNS / 3) },
  );
  // Guard against a compiler that "passes" by leaving everything to memory.
  assert.ok(fullyCompiled > runs / 10 && pushed > runs / 2, `${fullyCompiled} fully compiled, ${pushed} pushed of ${runs}`);
  return { fullyCompiled, pushed, runs };
}

test("differential: SQLite push-down agrees with matchRow", async () => {
  const db = new Database(":memory:");
  registerSqliteFunctions(db);
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, tag TEXT, uid INTEGER, flag INTEGER, ts INTEGER, meta TEXT)");
  const insert = db.prepare("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?)");
  const load = db.transaction((rows: Row[]) => {
    db.exec("DELETE FROM t");
    for (const r of rows) insert.run(...dbValues(r));
  });
  await differential(
    "sqlite",
    async (rows) => load(rows),
    async (where, params) => (db.prepare(`SELECT id FROM t WHERE ${where}`).all(...params) as { id: number }[]).map((r) => r.id),
    async (order) => (db.prepare(`SELECT id FROM t ORDER BY ${order}`).all() as { id: number }[]).map((r) => r.id),
  );
  db.close();
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A throwaway PostgreSQL on loopback (Debian binaries), or null when unavailable. */
async function startPostgres(): Promise<{ client: pg.Client; stop: () => Promise<void> } | null> {
  if (process.env.GATEHOUSE_TEST_PG_URL) {
    const client = new pg.Client({ connectionString: process.env.GATEHOUSE_TEST_PG_URL });
    await client.connect();
    return { client, stop: () => client.end() };
  }
  const root = "/usr/lib/postgresql";
  const version = existsSync(root) ? readdirSync(root).sort().pop() : undefined;
  const bin = version ? join(root, version, "bin") : undefined;
  if (!bin || !existsSync(join(bin, "initdb"))) return null;
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-query-pg-"));
  // initdb refuses to run as root.
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]): void => {
    if (asRoot) execFileSync("runuser", ["-u", "postgres", "--", join(bin, cmd), ...args], { stdio: "ignore" });
    else execFileSync(join(bin, cmd), args, { stdio: "ignore" });
  };
  const data = join(dir, "data");
  const stopServer = (): void => {
    try {
      run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
    } catch {
      // not running
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (asRoot) chownSync(dir, Number(execFileSync("id", ["-u", "postgres"]).toString()), 0);
    const port = await freePort();
    run("initdb", ["-D", data, "-U", "app", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]);
    run("pg_ctl", ["-D", data, "-l", join(dir, "log"), "-w", "-o", `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off`, "start"]);
    const client = new pg.Client({ host: "127.0.0.1", port, user: "app", database: "postgres" });
    await client.connect();
    return {
      client,
      stop: async () => {
        await client.end();
        stopServer();
      },
    };
  } catch {
    stopServer();
    return null;
  }
}

test("differential: PostgreSQL push-down agrees with matchRow", async (t) => {
  const server = await startPostgres();
  if (!server) {
    t.skip("PostgreSQL not available");
    return;
  }
  const { client } = server;
  try {
    await client.query("DROP TABLE IF EXISTS t");
    // A natural-language collation on the text columns, as a non-C database locale would give:
    // the compiled SQL must not depend on it.
    await client.query('CREATE TABLE t (id bigint PRIMARY KEY, name text COLLATE "en-x-icu", tag text COLLATE "en-x-icu", uid bigint, flag integer, ts bigint, meta text)');
    const ids = (rows: { id: string }[]): number[] => rows.map((r) => Number(r.id));
    await differential(
      "postgres",
      async (rows) => {
        await client.query("DELETE FROM t");
        if (!rows.length) return;
        const values = rows.map((_, i) => `(${Array.from({ length: 7 }, (_, j) => `$${i * 7 + j + 1}`).join(", ")})`);
        await client.query(`INSERT INTO t VALUES ${values.join(", ")}`, rows.flatMap(dbValues));
      },
      async (where, params) => ids((await client.query(`SELECT id FROM t WHERE ${where}`, params)).rows),
      async (order) => ids((await client.query(`SELECT id FROM t ORDER BY ${order}`)).rows),
    );
  } finally {
    await server.stop();
  }
});

test("property: parseFilters/parseOptions reject arbitrary JSON only with ValidationErrors", () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), fc.jsonValue({ maxDepth: 3 }), (f, o) => {
      for (const fn of [() => matchRow({ a: 1 }, parseFilters(f)), () => parseOptions(o)]) {
        try {
          fn();
        } catch (e) {
          assert.ok(e instanceof ValidationErrors, String(e));
        }
      }
    }),
    { numRuns: RUNS },
  );
});

test("property: negated operators are complements where Python defines both", () => {
  const pairs: [string, string][] = [
    ["=", "!="],
    ["^", "!^"],
    ["$", "!$"],
    ["rin", "rnin"],
    ["in", "nin"],
  ];
  fc.assert(
    fc.property(fc.option(str, { nil: null }), str, fc.constantFrom(...pairs), fc.boolean(), (x, v, [pos, neg], ci) => {
      const value = pos === "in" ? [v] : v;
      const p = (op: string): boolean => match({ x }, [["x", ci ? `C${op}` : op, value]]);
      if (x === null && pos !== "=")
        assert.equal(p(pos) || p(neg), false); // null never matches either side
      else assert.equal(p(pos), !p(neg));
    }),
    { numRuns: RUNS },
  );
});
