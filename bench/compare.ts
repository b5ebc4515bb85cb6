// Compares two `npm run bench -- --json FILE` outputs:
//   node --import tsx bench/compare.ts old.json new.json
// For every figure in both, the new run's median ratio against the old run's ratio spread (min–max
// across its rounds): WORSE when it moved the bad way (the row's `better`) beyond that spread.
// Exit status 1 when a ratio is worse, 2 on bad input; figures in only one run are listed.
//
// Either side may name several runs of the same commit, comma-separated (old1.json,old2.json):
// their rounds are pooled, per figure, into one run of that many rounds. With five rounds a side,
// a figure drawn from one unchanged distribution lands its median beyond the old extreme about one
// time in twelve; with ten pooled rounds a side, one in sixty; with fifteen, one in nine hundred.

import { readFileSync } from "node:fs";
import { type Row, type Stat, stat } from "./measure.js";
import type { Section } from "./table.js";
import { formatRatio } from "./table.js";

interface Run {
  meta: { users: number; pgUsers?: number; rounds: number; commit?: string | null; started?: string };
  sections: Section[];
}

function load(file: string): Run {
  try {
    const run = JSON.parse(readFileSync(file, "utf8")) as Run;
    if (!Array.isArray(run.sections)) throw new Error("no sections");
    return run;
  } catch (err) {
    process.stderr.write(`${file}: not a bench --json output (${(err as Error).message})\n`);
    process.exit(2);
  }
}

const key = (s: Section, r: Row) => `${s.title} ▸ ${r.name}`;

/** One stat of the same figure from several runs: their samples, pooled. */
function pooledStat(stats: (Stat | null)[]): Stat | null {
  if (stats.some((st) => !st)) return null;
  return stat(stats.flatMap((st) => st!.samples));
}

/** Several runs of one commit as one run: each figure's rounds pooled (a figure missing from a run is left out). */
function pool(runs: Run[]): Run {
  if (runs.length === 1) return runs[0]!;
  const commits = new Set(runs.map((r) => (r.meta.commit ?? "?").split(" ")[0]));
  if (commits.size > 1) process.stdout.write(`WARNING: pooled runs of different commits: ${[...commits].join(", ")}\n`);
  const sections: Section[] = runs[0]!.sections.map((s) => ({
    ...s,
    rows: s.rows.flatMap((r) => {
      const same = runs.map((run) => run.sections.find((x) => x.title === s.title)?.rows.find((x) => x.name === r.name));
      if (same.some((x) => !x)) return [];
      const rows = same as Row[];
      const value = pooledStat(rows.map((x) => x.value))!;
      return [{ ...r, value, baseline: pooledStat(rows.map((x) => x.baseline)), ratio: pooledStat(rows.map((x) => x.ratio)) }];
    }),
  }));
  return { meta: { ...runs[0]!.meta, rounds: runs.reduce((n, r) => n + r.meta.rounds, 0) }, sections };
}

const loadAll = (files: string): Run => pool(files.split(",").map(load));

export type Verdict = "worse" | "better" | "same";

/** Worse: the new median is outside the old run's min–max on the bad side. */
export function verdict(better: Row["better"], old: Stat, now: Stat): Verdict {
  if (better === "higher") return now.median < old.min ? "worse" : now.median > old.max ? "better" : "same";
  return now.median > old.max ? "worse" : now.median < old.min ? "better" : "same";
}

function main(): void {
  const [oldFile, newFile] = process.argv.slice(2);
  if (!oldFile || !newFile) {
    process.stderr.write("usage: node --import tsx bench/compare.ts old.json[,old2.json…] new.json[,new2.json…]\n");
    process.exit(2);
  }
  const before = loadAll(oldFile);
  const after = loadAll(newFile);
  const describe = (r: Run) => `${r.meta.users.toLocaleString("en-US")} users, ${r.meta.rounds} rounds, commit ${r.meta.commit ?? "?"}, ${r.meta.started ?? ""}`;
  process.stdout.write(`old: ${oldFile} — ${describe(before)}\nnew: ${newFile} — ${describe(after)}\n`);
  if (before.meta.users !== after.meta.users || before.meta.pgUsers !== after.meta.pgUsers)
    process.stdout.write("WARNING: the runs measured different store sizes; ratios may differ for that reason alone\n");
  if (before.meta.rounds < 5) process.stdout.write("WARNING: the old run has fewer than 5 rounds: its spread is a weak yardstick\n");

  const old = new Map<string, Row>();
  for (const s of before.sections) {
    for (const r of s.rows) {
      if (old.has(key(s, r))) process.stdout.write(`WARNING: two figures named ${key(s, r)} in the old run: the last one is compared\n`);
      old.set(key(s, r), r);
    }
  }
  const seen = new Set<string>();
  let worse = 0;
  for (const s of after.sections) {
    process.stdout.write(`\n## ${s.title}\n`);
    for (const r of s.rows) {
      const k = key(s, r);
      seen.add(k);
      const o = old.get(k);
      if (!o) {
        process.stdout.write(`  new only   ${r.name}\n`);
        continue;
      }
      // A figure without a baseline is judged on its value (no row of the bench has none today).
      const [os, ns] = o.ratio && r.ratio ? [o.ratio, r.ratio] : [o.value, r.value];
      const v = verdict(r.better, os, ns);
      if (v === "worse") worse++;
      const show = (row: Row, st: Stat) => (row.ratio ? formatRatio(row, st) : `${st.median.toPrecision(4)} (${st.min.toPrecision(4)}–${st.max.toPrecision(4)}) ${row.unit}`);
      process.stdout.write(`  ${v === "worse" ? "WORSE " : v === "better" ? "better" : "same  "}     ${r.name}\n             old ${show(o, os)}\n             new ${show(r, ns)}\n`);
    }
  }
  const gone = [...old.keys()].filter((k) => !seen.has(k));
  for (const k of gone) process.stdout.write(`  old only   ${k}\n`);
  process.stdout.write(`\n${worse ? `${worse} ratio(s) WORSE than the old run beyond its min–max spread` : "no ratio worse than the old run beyond its min–max spread"}\n`);
  process.exit(worse ? 1 : 0);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
