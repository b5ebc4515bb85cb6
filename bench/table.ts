// The benchmark table: each figure (median, with min–max across rounds) beside its baseline measured
// in the same rounds, and their ratio (median of the per-round ratios, with its min–max). The same
// sections can be written as JSON (`--json FILE`) for bench/compare.ts.

import type { Row, Stat } from "./measure.js";

export type { Row };

export interface Section {
  title: string;
  rows: Row[];
  /** Facts about the measured data, printed under the table (kept out of row names, which compare.ts matches). */
  notes?: string[];
}

function fmt(n: number | null): string {
  if (n === null || Number.isNaN(n)) return "-";
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString("en-US");
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(3);
}

const spread = (s: Stat, f: (n: number) => string) => (s.samples.length > 1 ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median));

export function formatRatio(r: Row, s: Stat): string {
  const f = r.ratioAsTimes ? (n: number) => `${fmt(n)}×` : (n: number) => `${(n * 100).toFixed(1)}%`;
  return `${spread(s, f)}${r.ratioNote ? ` ${r.ratioNote}` : ""}`;
}

export function printTable(title: string, rows: Row[], notes: string[] = []): void {
  const lines = rows.map((r) => [
    r.name,
    `${spread(r.value, fmt)} ${r.unit}`,
    r.baseline === null ? "-" : `${spread(r.baseline, fmt)} ${r.baselineUnit ?? r.unit}${r.baselineName ? ` (${r.baselineName})` : ""}`,
    r.ratio === null ? "-" : formatRatio(r, r.ratio),
    r.aim ?? "",
  ]);
  const header = ["figure", "value: median (min–max)", "baseline, same rounds", "ratio: median (min–max)", "aim"];
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  process.stdout.write(
    `\n## ${title}\n\n${row(header)}\n| ${widths.map((w) => "-".repeat(w)).join(" | ")} |\n${lines.map(row).join("\n")}\n${notes.map((n) => `\n${n}`).join("")}${notes.length ? "\n" : ""}`,
  );
}
