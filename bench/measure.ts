// The one place that turns repeated measurements into figures: every area measures a figure and
// its baseline in alternating rounds (`alternate`), and builds its table rows from the per-round
// samples (`figure`): the median with min and max of each, and the same-run ratio computed round
// by round (the value of round r against the baseline of round r), with its own median, min and max.

export interface Stat {
  median: number;
  min: number;
  max: number;
  /** The samples, one per round, in round order. */
  samples: number[];
}

/** Median (upper median for an even count), min and max of `xs`. */
export function stat(xs: readonly number[]): Stat {
  if (!xs.length) throw new Error("stat of no samples");
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s[s.length - 1]!, samples: [...xs] };
}

export type Measurements = Record<string, (round: number) => Promise<unknown>>;
export type Samples<T extends Measurements> = { [K in keyof T]: Awaited<ReturnType<T[K]>>[] };

/**
 * Runs every measurement of `fns` once per round for `rounds` rounds, alternating: round 0 in the
 * order given (A B), round 1 reversed (B A), round 2 as given… so a change in the machine's load,
 * or a warm-up effect, falls on the figure and its baseline alike. Each function gets the round
 * number (to pick inputs not used in an earlier round, where a cache would answer them).
 * `between` runs before every measurement (e.g. a GC, so garbage of one is not collected in the next).
 */
export async function alternate<T extends Measurements>(rounds: number, fns: T, between?: () => void | Promise<void>): Promise<Samples<T>> {
  const keys = Object.keys(fns) as (keyof T & string)[];
  const out = Object.fromEntries(keys.map((k) => [k, [] as unknown[]])) as Record<string, unknown[]>;
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? keys : [...keys].reverse();
    for (const k of order) {
      await between?.();
      out[k]!.push(await fns[k]!(r));
    }
  }
  return out as Samples<T>;
}

/** Collects garbage when the bench runs with --expose-gc (npm run bench does). */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Which way the ratio improves: compare.ts flags a ratio that moved the other way beyond its spread. */
export type Better = "higher" | "lower";

export interface Row {
  name: string;
  unit: string;
  value: Stat;
  baseline: Stat | null;
  baselineName?: string;
  baselineUnit?: string;
  ratio: Stat | null;
  /** How the ratio is formed, e.g. "value ÷ baseline". */
  ratioNote?: string;
  /** Show the ratio as "N×" rather than a percentage. */
  ratioAsTimes?: boolean;
  better: Better;
  aim?: string;
}

export interface FigureSpec {
  name: string;
  unit: string;
  /** One sample per round. */
  value: number[];
  /** One sample per round, measured alternately with `value` in the same rounds. */
  baseline?: number[];
  baselineName?: string;
  baselineUnit?: string;
  /** The ratio of one round from its value and baseline; default value ÷ baseline. */
  ratio?: (value: number, baseline: number) => number;
  ratioNote?: string;
  ratioAsTimes?: boolean;
  /** Which way the ratio (or, without a baseline, the value) improves. */
  better: Better;
  aim?: string;
}

/** A table row from per-round samples. */
export function figure(spec: FigureSpec): Row {
  const { value, baseline } = spec;
  if (baseline && baseline.length !== value.length) throw new Error(`${spec.name}: ${value.length} values, ${baseline.length} baselines`);
  const ratioOf = spec.ratio ?? ((v: number, b: number) => v / b);
  return {
    name: spec.name,
    unit: spec.unit,
    value: stat(value),
    baseline: baseline ? stat(baseline) : null,
    baselineName: spec.baselineName,
    baselineUnit: spec.baselineUnit,
    ratio: baseline ? stat(value.map((v, i) => ratioOf(v, baseline[i]!))) : null,
    ratioNote: spec.ratioNote ?? (baseline ? (spec.ratio ? undefined : "value ÷ baseline") : undefined),
    ratioAsTimes: spec.ratioAsTimes,
    better: spec.better,
    aim: spec.aim,
  };
}

/** The options every area runs with (bench/run.ts parses them from the command line). */
export interface BenchOptions {
  /** Users in the store for the store-sized figures. */
  users: number;
  /** Groups beside them (a fifth of the users, as the issues measured). */
  groups: number;
  /** Rounds per figure (at least 5 for a published figure). */
  rounds: number;
  /** API calls per round of a throughput figure. */
  calls: number;
  /** PostgreSQL URL for the PostgreSQL rows, when a server is available. */
  pgUrl: string | null;
  /** Users for the PostgreSQL rows (the 1,000,000 tier is SQLite only). */
  pgUsers: number;
}

/** The defaults of bench/run.ts, for an area run on its own. */
export const DEFAULT_OPTIONS: BenchOptions = {
  users: 100_000,
  groups: 20_000,
  rounds: 5,
  calls: 10_000,
  pgUrl: process.env.GATEHOUSE_TEST_PG ?? null,
  pgUsers: 100_000,
};
