// The shape every area keeps (issue 10): method files in src/api declare data and call one domain
// function. No SQL (query builders, raw `sql` templates) and no role or ownership check
// (`session.roles`, `fullAdmin`) may appear under src/api; those live in src/auth, src/access,
// src/accounts, ... and in the method metadata the dispatcher enforces.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const apiDir = path.join(root, "src/api");

const FORBIDDEN: [RegExp, string][] = [
  [/\.selectFrom\(/, "SQL (selectFrom)"],
  [/\.insertInto\(/, "SQL (insertInto)"],
  [/\.updateTable\(/, "SQL (updateTable)"],
  [/\.deleteFrom\(/, "SQL (deleteFrom)"],
  [/\bsql`/, "SQL (sql template)"],
  [/\bsql\.(raw|ref|lit|id|table|join)\(/, "SQL (sql helper)"],
  [/session\??\.roles\b/, "role check (session.roles)"],
  [/\bfullAdmin\b/, "role check (fullAdmin)"],
  [/\bholdsFullAdmin\b/, "role check (holdsFullAdmin)"],
];

/**
 * Files that still hold SQL or a role rule, to be moved into a domain module (issue 10 point 1).
 * The list may only shrink: a file listed here that no longer matches fails too, so the list
 * always says exactly what is left.
 */
const NOT_YET_MOVED = new Set<string>([]);

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

/** Each forbidden construct in a file, as `line: what`, comments included (a comment naming one is rare and easy to reword). */
function findings(file: string): string[] {
  const out: string[] = [];
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((line, i) => {
      for (const [re, what] of FORBIDDEN) if (re.test(line)) out.push(`${i + 1}: ${what}`);
    });
  return out;
}

test("src/api holds no SQL and no role or ownership check (outside the shrinking list of files not yet moved)", () => {
  const offending: string[] = [];
  const stale: string[] = [];
  for (const file of sources(apiDir)) {
    const rel = path.relative(apiDir, file).split(path.sep).join("/");
    const found = findings(file);
    if (NOT_YET_MOVED.has(rel)) {
      if (!found.length) stale.push(rel);
      continue;
    }
    for (const f of found) offending.push(`src/api/${rel}:${f}`);
  }
  assert.deepEqual(offending, [], "move these into a domain module (src/auth, src/access, src/accounts, ...)");
  assert.deepEqual(stale, [], "these no longer hold SQL or a role check: remove them from NOT_YET_MOVED");
});

test("the check finds what it looks for (each pattern matches a sample)", () => {
  const samples = ["db.selectFrom(", "db.insertInto(", "db.updateTable(", "db.deleteFrom(", "sql`select 1`", "sql.ref(", "session.roles.has(", "session?.roles", "s.fullAdmin", "holdsFullAdmin(s)"];
  for (const s of samples)
    assert.ok(
      FORBIDDEN.some(([re]) => re.test(s)),
      s,
    );
  assert.ok(!FORBIDDEN.some(([re]) => re.test("ctx.app.auth.login(conn, req)")), "a domain call is not flagged");
});
