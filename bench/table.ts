// The benchmark table: each figure beside its baseline measured in the same run, as a ratio.

export interface Row {
  name: string;
  value: number;
  unit: string;
  baseline: number | null;
  baselineName?: string;
  baselineUnit?: string;
  /** value / baseline (or baseline / value for "lower is better" figures, as stated in `ratioNote`). */
  ratio: number | null;
  ratioNote?: string;
  /** Show the ratio as "N×" rather than a percentage. */
  ratioAsTimes?: boolean;
  aim?: string;
}

function fmt(n: number | null): string {
  if (n === null || Number.isNaN(n)) return "-";
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString("en-US");
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(3);
}

export function printTable(title: string, rows: Row[]): void {
  const lines = rows.map((r) => [
    r.name,
    `${fmt(r.value)} ${r.unit}`,
    r.baseline === null ? "-" : `${fmt(r.baseline)} ${r.baselineUnit ?? r.unit}${r.baselineName ? ` (${r.baselineName})` : ""}`,
    r.ratio === null ? "-" : r.ratioAsTimes ? `${fmt(r.ratio)}×${r.ratioNote ? ` ${r.ratioNote}` : ""}` : `${(r.ratio * 100).toFixed(1)}%${r.ratioNote ? ` ${r.ratioNote}` : ""}`,
    r.aim ?? "",
  ]);
  const header = ["figure", "value", "baseline (same run)", "ratio", "aim"];
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  process.stdout.write(`\n## ${title}\n\n${row(header)}\n| ${widths.map((w) => "-".repeat(w)).join(" | ")} |\n${lines.map(row).join("\n")}\n`);
}
