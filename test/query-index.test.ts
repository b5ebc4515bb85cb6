// Differential property test of the indexed search paths (issue 15, src/store/query-search.ts):
// on a real store of each kind, with migration 015's indexes, user.query's answer to a search —
// prefixes, substrings, case-insensitive equality, OR'd quick searches, with paging, ordering
// (also `:ci`) and counts — must equal the query engine's reference evaluator (matchRow +
// applyOptions) over every entry. Half the runs shrink the planner's K so common terms take the
// ordered-walk plan, the other half leave it, so rare terms take the index plan; both are counted.
// Pages ordered by uid have a property of their own: on SQLite they walk migration 019's covering
// index (candidates tested as a set, or no candidates at all) or look the candidates up by id, and
// every one of those plans must be taken and answer exactly.

import assert from "node:assert/strict";
import { builtinUserBase } from "../src/accounts/system-accounts.js";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { sql } from "kysely";
import pg from "pg";
import { openStore, type Store } from "../src/store/db.js";
import { GROUP_COLUMNS } from "../src/accounts/group-entry.js";
import { USER_COLUMNS, queryUsers } from "../src/accounts/user-entry.js";
import { AUDIT_COLUMNS } from "../src/audit/query.js";
import { applyOptions, compileOrderBy, matchRow, parseFilters, parseOptions, registerSqliteFunctions } from "../src/store/query.js";
import { planInput, planSearch, type SearchPlan, searchTuning, USER_SEARCH } from "../src/store/query-search.js";
import { freshPgDatabase, STORES, type StoreKind } from "./harness.js";

const RUNS = Number(process.env.GATEHOUSE_PROPERTY_RUNS ?? 150);

// Near misses for ASCII folding: the Kelvin sign and long s (match k / s case-insensitively in
// JS), ß (casefolds to ss), accented letters, LIKE/GLOB/FTS syntax, quotes, newlines.
const PIECES = ["ab", "AB", "aB", "abc", "ABC", "abcd", "k", "K", "\u212a", "s", "ſ", "ss", "ß", "é", "É", "%", "_", "*", '"', "'", "\n", " ", "x", "1", "12", "123", "😀"];
const text = fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 4 }).map((a) => a.join(""));
const TERMS = ["a", "ab", "AB", "abc", "ABC", "bcd", "k", "K", "s", "ss", "123", "%", "_", '"', "x1", "é", "\u212a", "ab\n"];
const term = fc.oneof(fc.constantFrom(...TERMS), text);
const esc = (s: string): string => s.replace(/[\\.^$*+?{}[\]()|]/g, (m) => `\\${m}`);

const FIELD = fc.constantFrom("username", "full_name");
const searchLeaf = fc.oneof(
  fc.tuple(FIELD, term).map(([f, t]) => [f, "~", `(?i)${esc(t)}.*`]),
  fc.tuple(FIELD, term).map(([f, t]) => [f, "~", `(?i).*${esc(t)}.*`]),
  fc.tuple(FIELD, term).map(([f, t]) => [f, "~", `.*${esc(t)}`]),
  fc.tuple(FIELD, term).map(([f, t]) => [f, "~", `${esc(t)}.*`]),
  fc.tuple(FIELD, term, fc.constantFrom("^", "C^", "C=", "rin", "Crin")).map(([f, t, op]) => [f, op, t]),
);
const filtersArb = fc.oneof(
  searchLeaf.map((l) => [l]),
  fc.tuple(searchLeaf, searchLeaf).map(([a, b]) => [["OR", [[a], [b]]]]),
  fc.tuple(searchLeaf, fc.constantFrom(["locked", "=", false], ["smb", "=", true], ["uid", ">", 1005])).map(([a, b]) => [a, b]),
);
const optionsArb = fc.oneof(
  fc.record({
    limit: fc.integer({ min: 1, max: 8 }),
    offset: fc.integer({ min: 0, max: 3 }),
    order_by: fc.constantFrom(["uid"], ["-uid"], ["username"], ["full_name:ci"], ["-username:ci"], []),
  }),
  fc.constant({ count: true }),
  fc.constant({}),
);

async function seed(store: Store, names: string[], fullNames: string[]): Promise<void> {
  await store.db.transaction().execute(async (trx) => {
    const g = await trx
      .insertInto("groups")
      .values({ gid: 5000, name: "idxg", builtin: 0, smb: 0, sudo_commands: "[]", sudo_commands_nopasswd: "[]", userns_idmap: null })
      .returning("id")
      .executeTakeFirstOrThrow();
    for (let i = 0; i < names.length; i++) {
      await trx
        .insertInto("users")
        .values({
          ...builtinUserBase(0),
          uid: 1000 + i,
          username: names[i],
          home: "/var/empty",
          shell: "/usr/bin/bash",
          full_name: fullNames[i],
          builtin: 0,
          smb: i % 3 ? 1 : 0,
          group_id: g.id,
          password_disabled: 1,
          locked: i % 5 === 0 ? 1 : 0,
        })
        .execute();
    }
  });
}

/** Rows for the store: every username unique (lowercased too: SMB names are unique ignoring case). */
function rows(): { names: string[]; fullNames: string[] } {
  const rng = fc.sample(fc.tuple(text, text), { numRuns: 120, seed: 15 });
  const seen = new Set<string>();
  const names: string[] = [];
  const fullNames: string[] = [];
  rng.forEach(([n, f], i) => {
    const name = `${n}${i}`;
    if (seen.has(name.toLowerCase())) return;
    seen.add(name.toLowerCase());
    names.push(name);
    fullNames.push(i % 7 === 0 ? `${f}\nsecond line abc` : f);
  });
  return { names, fullNames };
}

async function withStore(kind: StoreKind, fn: (store: Store) => Promise<void>): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "gatehouse-qidx-"));
  const url = kind === "postgres" ? await freshPgDatabase() : undefined;
  const store = await openStore({ url, dataDir, sqliteFunctions: registerSqliteFunctions });
  try {
    await fn(store);
  } finally {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
    if (url) {
      const admin = new pg.Client({ connectionString: process.env.GATEHOUSE_TEST_PG });
      await admin.connect();
      await admin.query(`drop database if exists ${new URL(url).pathname.slice(1)} with (force)`).finally(() => admin.end());
    }
  }
}

for (const kind of STORES) {
  test(`indexed searches answer exactly what the reference evaluator does [${kind}]`, async () => {
    await withStore(kind, async (store) => {
      const { names, fullNames } = rows();
      await seed(store, names, fullNames);
      const all = (await queryUsers(store, [], {})) as unknown[];
      assert.equal(all.length, names.length);
      const plans = { index: 0, walk: 0, none: 0 };
      const saved = { ...searchTuning };
      try {
        await fc.assert(
          fc.asyncProperty(filtersArb, optionsArb, fc.boolean(), async (rawFilters, rawOptions, smallK) => {
            Object.assign(searchTuning, smallK ? { minK: 2, maxK: 4 } : saved);
            const filters = parseFilters(rawFilters);
            const options = parseOptions(rawOptions);
            const input = planInput(filters, options, USER_SEARCH);
            const plan = await planSearch(store.db, store.dialect, USER_SEARCH, input);
            plans[plan?.where ? "index" : filters.length && input.want < Infinity && smallK ? "walk" : "none"]++;
            const expected = applyOptions(
              all.filter((e) => matchRow(e, filters)),
              options,
            );
            const actual = await queryUsers(store, rawFilters, rawOptions);
            assert.deepEqual(actual, expected, `${JSON.stringify(rawFilters)} ${JSON.stringify(rawOptions)}`);
          }),
          { numRuns: RUNS },
        );
      } finally {
        Object.assign(searchTuning, saved);
      }
      // Both plans ran (a planner that never used the index would pass the equality above).
      assert.ok(plans.index > RUNS / 5 && plans.walk > RUNS / 20, JSON.stringify(plans));
    });
  });
}

/** The search plan user.query's filters and options get on `store`. */
function userSearchPlan(store: Store, filters: unknown[], options: Record<string, unknown>): Promise<SearchPlan | null> {
  return planSearch(store.db, store.dialect, USER_SEARCH, planInput(parseFilters(filters), parseOptions(options), USER_SEARCH));
}

test("SQLite: a count with a case-sensitive ^ is left to the column's plain index; C^, a GLOB character or a page still take candidates [sqlite]", async () => {
  await withStore("sqlite", async (store) => {
    const plan = (filters: unknown[], options: Record<string, unknown>) => userSearchPlan(store, filters, options);
    assert.equal(await plan([["full_name", "^", "Ada Love"]], { count: true }), null);
    assert.equal(await plan([["username", "^", "user01"]], { count: true }), null);
    assert.ok((await plan([["full_name", "C^", "ada love"]], { count: true }))?.where, "C^: the lowercased index's candidates");
    assert.ok((await plan([["full_name", "^", "Ada*"]], { count: true }))?.where, "a GLOB character: the candidates");
    assert.ok((await plan([["full_name", "~", "Ada Love.*"]], { count: true }))?.where, "a regex prefix (its SQL wraps the column): the candidates");
    const page = await plan([["full_name", "^", "Ada Love"]], { limit: 10, order_by: ["uid"] });
    assert.ok(page !== null, "a page still chooses by selectivity");
  });
});

if (STORES.includes("postgres")) {
  test("PostgreSQL: a count with a case-sensitive ^ on username is left to its code-point index; on full_name (no such index) it takes candidates [postgres]", async () => {
    await withStore("postgres", async (store) => {
      const plan = (filters: unknown[], options: Record<string, unknown>) => userSearchPlan(store, filters, options);
      assert.equal(await plan([["username", "^", "user01"]], { count: true }), null);
      assert.ok((await plan([["full_name", "^", "Ada Love"]], { count: true }))?.where, "full_name: the lowercased index's candidates");
      assert.ok((await plan([["username", "C^", "USER01"]], { count: true }))?.where, "C^: the lowercased index's candidates");
    });
  });
}

/** Which plan a search took: candidates looked up by id, tested against a covering walk, a covering walk alone, or none. */
function planKind(plan: SearchPlan | null): "lookup" | "set" | "cover" | "none" {
  if (!plan) return "none";
  if (!plan.via) return "lookup";
  return plan.where ? "set" : "cover";
}

const uidPageArb = fc.record({
  limit: fc.integer({ min: 1, max: 8 }),
  offset: fc.integer({ min: 0, max: 3 }),
  order_by: fc.constantFrom(["uid"], ["-uid"], ["uid", "username"]),
});
// Default K (100 at this size): few candidates are looked up, more tested against the walk; a K of
// 2–4: most searches walk the covering index alone; a divisor of 1: candidates under K never looked up.
const TUNINGS = [{}, { minK: 2, maxK: 4 }, { minK: 8, maxK: 8, lookupDivisor: 1 }];

for (const kind of STORES) {
  test(`pages ordered by uid (a covering index's walk on SQLite) answer exactly what the reference evaluator does [${kind}]`, async () => {
    await withStore(kind, async (store) => {
      const { names, fullNames } = rows();
      await seed(store, names, fullNames);
      const all = (await queryUsers(store, [], {})) as unknown[];
      const plans = { lookup: 0, set: 0, cover: 0, none: 0 };
      const saved = { ...searchTuning };
      try {
        await fc.assert(
          fc.asyncProperty(filtersArb, uidPageArb, fc.constantFrom(...TUNINGS), async (rawFilters, rawOptions, tuning) => {
            Object.assign(searchTuning, saved, tuning);
            const filters = parseFilters(rawFilters);
            const options = parseOptions(rawOptions);
            plans[planKind(await planSearch(store.db, store.dialect, USER_SEARCH, planInput(filters, options, USER_SEARCH)))]++;
            const expected = applyOptions(
              all.filter((e) => matchRow(e, filters)),
              options,
            );
            const actual = await queryUsers(store, rawFilters, rawOptions);
            assert.deepEqual(actual, expected, `${JSON.stringify(rawFilters)} ${JSON.stringify(rawOptions)} ${JSON.stringify(tuning)}`);
          }),
          { numRuns: RUNS },
        );
      } finally {
        Object.assign(searchTuning, saved);
      }
      // Every plan ran: SQLite's three; PostgreSQL has no covering walk (migration 019 is SQLite's).
      // The filters are random: a PostgreSQL lookup share of about a quarter came out at exactly
      // RUNS / 5 once in CI, so the bound is RUNS / 10 (the check is that the plan runs at all).
      if (kind === "sqlite") assert.ok(plans.lookup > RUNS / 20 && plans.set > RUNS / 20 && plans.cover > RUNS / 20, JSON.stringify(plans));
      else assert.ok(plans.lookup > RUNS / 10 && plans.set + plans.cover === 0, JSON.stringify(plans));
    });
  });
}

for (const kind of STORES) {
  // Plain lookups skip the planner and compilation: on SQLite they run at once on the store's
  // connection from a prepared statement (as a page's statements do, rows built as arrays), on
  // PostgreSQL batched (the next test); either way exactly.
  test(`lookups by username, uid or id answer exactly what the reference evaluator does [${kind}]`, async () => {
    await withStore(kind, async (store) => {
      const { names, fullNames } = rows();
      await seed(store, names, fullNames);
      const all = (await queryUsers(store, [], {})) as { id: number; username: string; uid: number }[];
      const known = fc.constantFrom(...all).chain((u) => fc.constantFrom(["username", "=", u.username], ["uid", "=", u.uid], ["id", "=", u.id]));
      const other = fc.tuple(fc.constantFrom("username", "uid", "id"), fc.oneof(text, fc.integer({ min: -5, max: 5000 }), fc.constantFrom(null, 1.5, "1000", true))).map(([f, v]) => [f, "=", v]);
      await fc.assert(
        fc.asyncProperty(fc.oneof(known, other), async (leaf) => {
          const expected = all.filter((e) => matchRow(e, parseFilters([leaf])));
          assert.deepEqual(await queryUsers(store, [leaf], {}), expected, JSON.stringify(leaf));
        }),
        { numRuns: RUNS },
      );
      if (kind === "sqlite") {
        // The statement did not go through Kysely: it ran at once.
        const sent: string[] = [];
        const orig = store.db.executeQuery.bind(store.db);
        store.db.executeQuery = ((q: Parameters<typeof orig>[0], ...rest: unknown[]) => {
          sent.push("sql" in q ? q.sql : q.compile().sql);
          return (orig as (...a: unknown[]) => ReturnType<typeof orig>)(q, ...rest);
        }) as typeof orig;
        try {
          assert.equal(((await queryUsers(store, [["username", "=", all[3]!.username]], {})) as unknown[]).length, 1);
          // So did a search's page (its planner's count may be queued).
          await queryUsers(store, [["full_name", "~", "(?i).*a.*"]], { limit: 3, order_by: ["uid"] });
        } finally {
          store.db.executeQuery = orig;
        }
        assert.ok(!sent.some((s) => s.includes(`"users"."username" = ?`) || s.startsWith(`SELECT "users".*`)), sent.join("\n"));
      }
    });
  });
}

for (const kind of STORES) {
  test(`concurrent lookups (batched into one statement on PostgreSQL) answer each caller exactly [${kind}]`, async () => {
    await withStore(kind, async (store) => {
      const { names, fullNames } = rows();
      await seed(store, names, fullNames);
      const all = (await queryUsers(store, [], {})) as { username: string; uid: number }[];
      const asks: unknown[][] = [];
      for (let i = 0; i < 60; i++) {
        const u = all[(i * 7) % all.length]!;
        asks.push(i % 3 === 0 ? ["uid", "=", u.uid] : i % 5 === 0 ? ["username", "=", `${u.username}-none`] : ["username", "=", u.username]);
      }
      asks.push(["username", "=", all[0]!.username], ["username", "=", all[0]!.username], ["uid", "=", 999_999]);
      const answers = await Promise.all(asks.map((a) => queryUsers(store, [a], {})));
      answers.forEach((got, i) => {
        const want = all.filter((e) => matchRow(e, parseFilters([asks[i]])));
        assert.deepEqual(got, want, JSON.stringify(asks[i]));
      });
      // Two callers of the same name each hold their own result.
      const [a, b] = answers.slice(-3, -1) as unknown[][];
      assert.notEqual(a, b);
    });
  });
}

if (STORES.includes("postgres")) {
  // The ordered walk of a common search (the plan when the index names too many rows) is only
  // cheap when PostgreSQL reads the uid index in order and stops after the page. An ORDER BY with
  // a NULLS clause against the index's order made it read and sort every row instead (140 ms
  // against 3 ms at 100,000 users); uid is NOT NULL, so the clause is left out.
  // The same holds for the Users page's own order (`username:ci`, the UI's default sort): its index
  // holds lower(username COLLATE "C"), id. And for a plain username order, which the engine writes
  // in code-point order (COLLATE "C"): the column's own index is in the database's collation and
  // cannot give it, so migration 020 adds one that can (a common two-letter search ordered by
  // username: 170 ms → under 1 ms at 100,000 users).
  test("a page ordered by uid, username:ci or username walks its index on PostgreSQL, forwards and backwards [postgres]", async () => {
    await withStore("postgres", async (store) => {
      const { names, fullNames } = rows();
      await seed(store, names, fullNames);
      await sql`analyze users`.execute(store.db);
      const expected: Record<string, RegExp> = {
        uid: /Index Scan( Backward)? using users_uid_unique/,
        "username:ci": /Index Scan( Backward)? using users_username_ci/,
        username: /Index Scan( Backward)? using users_username_c /,
      };
      for (const order of [["uid"], ["-uid"], ["username:ci"], ["-username:ci"], ["username"], ["-username"]]) {
        const orderSql = compileOrderBy(order, USER_COLUMNS, "postgres");
        // Plain scans off: on a table this small a sequential scan is cheaper; the point is whether
        // the index can give the order at all.
        const plan = await store.db.transaction().execute(async (trx) => {
          await sql`set local enable_seqscan = off`.execute(trx);
          await sql`set local enable_bitmapscan = off`.execute(trx);
          const r = await sql.raw<{ "QUERY PLAN": string }>(`EXPLAIN SELECT "users"."id" FROM "users" WHERE "users"."full_name" LIKE '%a%' ORDER BY ${orderSql}, "users"."id" LIMIT 5`).execute(trx);
          return r.rows.map((x) => x["QUERY PLAN"]).join("\n");
        });
        assert.match(plan, expected[order[0]!.replace(/^-/, "")]!, `${order}: ${plan}`);
        // The id tiebreak (always ascending) may add an incremental sort over the index's order, never a full one.
        assert.doesNotMatch(plan, /^\s*(->\s+)?Sort\s+\(cost=/m, `${order}: ${plan}`);
      }
    });
  });

  // The Audit page's default order (newest first) on a log that only grows: DESC NULLS LAST
  // against the index's ASC NULLS LAST was a full sort of the log on every page.
  test("the Audit page's newest-first order walks the timestamp index backwards on PostgreSQL [postgres]", async () => {
    await withStore("postgres", async (store) => {
      const orderSql = compileOrderBy(["-message_timestamp"], AUDIT_COLUMNS, "postgres");
      const plan = await store.db.transaction().execute(async (trx) => {
        await sql`set local enable_seqscan = off`.execute(trx);
        const r = await sql.raw<{ "QUERY PLAN": string }>(`EXPLAIN SELECT "audit"."id" FROM "audit" ORDER BY ${orderSql}, "audit"."id" LIMIT 50`).execute(trx);
        return r.rows.map((x) => x["QUERY PLAN"]).join("\n");
      });
      assert.match(plan, /Index Scan Backward using audit_ts/, plan);
      assert.doesNotMatch(plan, /^\s*(->\s+)?Sort\s+\(cost=/m, plan);
    });
  });

  // The Groups page sorts by name, in code-point order like every text order (migration 020).
  test("a page of groups ordered by name walks its code-point index on PostgreSQL, forwards and backwards [postgres]", async () => {
    await withStore("postgres", async (store) => {
      for (const order of [["name"], ["-name"]]) {
        const orderSql = compileOrderBy(order, GROUP_COLUMNS, "postgres");
        const plan = await store.db.transaction().execute(async (trx) => {
          await sql`set local enable_seqscan = off`.execute(trx);
          const r = await sql.raw<{ "QUERY PLAN": string }>(`EXPLAIN SELECT "groups"."id" FROM "groups" ORDER BY ${orderSql}, "groups"."id" LIMIT 50`).execute(trx);
          return r.rows.map((x) => x["QUERY PLAN"]).join("\n");
        });
        assert.match(plan, /Index Scan( Backward)? using groups_name_c /, `${order}: ${plan}`);
        assert.doesNotMatch(plan, /^\s*(->\s+)?Sort\s+\(cost=/m, `${order}: ${plan}`);
      }
    });
  });
}
