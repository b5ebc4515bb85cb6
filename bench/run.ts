// npm run bench: every figure the issues ask for, each the median of alternating rounds beside its
// baseline measured in the same rounds, with min and max. `npm run bench -- --help` lists the flags.

import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import os from "node:os";
import { parseArgs } from "node:util";
import { printTable, type Section } from "./table.js";
import type { BenchOptions } from "./measure.js";

const AREAS = {
  core: "store, query engine, WebSocket API (issues 2, 15)",
  auth: "access control (issues 3, 15)",
  provision: "host provisioning (issues 4, 15)",
  ui: "web UI (issue 5)",
  ldap: "directory logins against a throwaway slapd (issue 12)",
  "fleet-proxy": "fleet proxy: fleet.call beside a bare relay and direct calls, status round of 1,000 systems (issue 11)",
  "fleet-access": "fleet access: query as a fleet user, explain, access matrix (issue 11)",
  mail: "password-reset request timing, existing vs unknown users (issue 12)",
  import: "bulk import of --users users beside a raw batched INSERT (issue 13)",
} as const;
type Area = keyof typeof AREAS;
/** Tiers above this many users run only the store-sized areas, and PostgreSQL at this size. */
const LARGE = 100_000;

const HELP = `usage: npm run bench -- [area…] [options]
       node --import tsx --expose-gc bench/run.ts [area…] [options]

areas (default: all; with --users above ${LARGE.toLocaleString("en-US")}: core and provision):
${Object.entries(AREAS)
  .map(([a, d]) => `  ${a.padEnd(10)} ${d}`)
  .join("\n")}

options:
  --users N     users in the store (default 100,000; groups: a fifth of them). The 1,000,000 tier:
                --users 1000000 (SQLite; areas core and provision)
  --pg-users N  users for the PostgreSQL rows (default: --users). Above ${LARGE.toLocaleString("en-US")} users the tier is
                SQLite only unless --pg-users is given (the default tier prints the PostgreSQL rows
                at ${LARGE.toLocaleString("en-US")}; the 1,000,000 tier must finish within 20 minutes)
  --rounds N    alternating rounds per figure (default 5): each figure and its baseline measured
                A B, B A, A B…; printed as median (min–max), the ratio computed round by round
  --calls N     API calls per round of a throughput figure (default 10,000)
  --json FILE   also write the figures as JSON (compare two with bench/compare.ts)
  --help        this text

PostgreSQL rows run when GATEHOUSE_TEST_PG is set (scripts/bench starts a throwaway server).`;

function positiveInt(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text.replace(/[_,]/g, ""));
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`--${name}: expected a positive integer, got ${JSON.stringify(text)}\n`);
    process.exit(2);
  }
  return n;
}

function parse(): { opts: BenchOptions; areas: Area[]; json: string | null } {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        users: { type: "string" },
        "pg-users": { type: "string" },
        rounds: { type: "string" },
        calls: { type: "string" },
        json: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${HELP}\n`);
    process.exit(2);
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const unknown = positionals.filter((p) => !(p in AREAS));
  if (unknown.length) {
    process.stderr.write(`unknown area ${unknown.join(", ")} (areas: ${Object.keys(AREAS).join(", ")})\n`);
    process.exit(2);
  }
  const users = positiveInt("users", v.users, 100_000);
  const rounds = positiveInt("rounds", v.rounds, 5);
  const areas = positionals.length ? [...new Set(positionals as Area[])] : users > LARGE ? (["core", "provision"] as Area[]) : (Object.keys(AREAS) as Area[]);
  const opts: BenchOptions = {
    users,
    groups: Math.max(1, Math.round(users / 5)),
    rounds,
    calls: positiveInt("calls", v.calls, 10_000),
    pgUrl: users > LARGE && v["pg-users"] === undefined ? null : (process.env.GATEHOUSE_TEST_PG ?? null),
    pgUsers: positiveInt("pg-users", v["pg-users"], Math.min(users, LARGE)),
  };
  return { opts, areas, json: v.json ?? null };
}

function commit(): string | null {
  try {
    const head = execFileSync("git", ["rev-parse", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    return dirty ? `${head} (with uncommitted changes)` : head;
  } catch {
    return null;
  }
}

const { opts, areas, json } = parse();
const n = (x: number) => x.toLocaleString("en-US");
const meta = {
  users: opts.users,
  groups: opts.groups,
  pgUsers: opts.pgUsers,
  rounds: opts.rounds,
  calls: opts.calls,
  areas,
  node: process.version,
  cores: os.cpus().length,
  commit: commit(),
  started: new Date().toISOString(),
};
process.stdout.write(`Gatehouse benchmarks — ${n(opts.users)} users, ${n(opts.groups)} groups, ${opts.rounds} alternating rounds per figure, Node ${process.version}, ${meta.cores} cores\n`);
if (opts.users > LARGE && !opts.pgUrl) process.stdout.write(`(SQLite only above ${n(LARGE)} users: --pg-users N adds the PostgreSQL rows)\n`);
if (opts.rounds < 5) process.stdout.write(`(fewer than 5 rounds: figures for a smoke test, not for comparison)\n`);
if (!(globalThis as { gc?: unknown }).gc) process.stdout.write(`(run with --expose-gc, as scripts/bench does: blocks are then measured after a GC)\n`);

const sections: Section[] = [];
// How long each area took (the 1,000,000 tier must finish within 20 minutes on 2 cores).
const elapsed: Record<string, number> = {};
// Written after every area, so a run stopped part-way leaves the figures it finished.
const save = () => json && writeFileSync(json, JSON.stringify({ meta: { ...meta, elapsedSeconds: elapsed }, sections }, null, 2) + "\n");
const minutes = (s: number) => `${(s / 60).toFixed(1)} min`;
const began = performance.now();
for (const area of areas) {
  const areaStart = performance.now();
  const mod = (await import(`./${area}.bench.js`)) as { run: (o: BenchOptions) => Promise<Section[]> };
  for (const s of await mod.run(opts)) {
    // compare.ts matches figures by section title and name: each must be unique.
    const dup = s.rows.find((r, i) => s.rows.findIndex((o) => o.name === r.name) !== i);
    if (dup) throw new Error(`two figures named "${dup.name}" in "${s.title}"`);
    printTable(s.title, s.rows, s.notes);
    sections.push(s);
  }
  elapsed[area] = Math.round((performance.now() - areaStart) / 1000);
  process.stdout.write(`\n(${area}: ${minutes(elapsed[area])})\n`);
  save();
}
elapsed.total = Math.round((performance.now() - began) / 1000);
const load = os
  .loadavg()
  .map((x) => x.toFixed(1))
  .join(" ");
process.stdout.write(`\n(${areas.join(", ")} at ${n(opts.users)} users: ${minutes(elapsed.total)} in all, load average at the end ${load})\n`);
save();
process.exit(0);
