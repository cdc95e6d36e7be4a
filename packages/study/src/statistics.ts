import {
  type AxisValue,
  JOB_STATUSES,
  type JobMetrics,
  type JobStatus,
  type MetricName,
  type ResultRow,
} from "./types.ts";

/** Every metric a job reports, in the order of results.csv. */
export const METRIC_NAMES = [
  "trainLoss",
  "valLoss",
  "amplitudePsnr",
  "amplitudeSsim",
  "phasePsnr",
  "phaseSsim",
] as const satisfies readonly MetricName[];

// Compile-time check that METRIC_NAMES lists every key of JobMetrics.
type MissingMetric = Exclude<MetricName, (typeof METRIC_NAMES)[number]>;
const _everyMetricListed: [MissingMetric] extends [never] ? true : MissingMetric = true;
void _everyMetricListed;

/** What the statistics and the report are computed for (from the spec's `report` section). */
export interface ReportOptions {
  readonly studyName: string;
  /** The metric the variations are ranked by. */
  readonly metric: MetricName;
  /** `max`: higher is better; `min`: lower is better. */
  readonly mode: "max" | "min";
  /** The matrix axes, in the spec's order. */
  readonly axes: readonly string[];
  /** An ISO time written into the outputs; omitted, the outputs carry no time at all. */
  readonly generatedAt?: string;
  /** How many variations the report's ranking table shows (default 10; statistics.json has all). */
  readonly top?: number;
}

/** A two-sided 95% interval of the mean from the Student t distribution. */
export interface ConfidenceInterval {
  readonly low: number;
  readonly high: number;
  readonly halfWidth: number;
}

/** Descriptive statistics of one metric over a set of succeeded jobs. Every number is finite. */
export interface SummaryStatistics {
  /** Succeeded jobs with a finite value. */
  readonly n: number;
  /** Succeeded jobs whose value was NaN or infinite (left out of every other field). */
  readonly nonFinite: number;
  readonly mean: number | null;
  readonly median: number | null;
  /** Sample standard deviation (n - 1); null for n < 2. */
  readonly std: number | null;
  readonly min: number | null;
  readonly max: number | null;
  /** null for n < 2. */
  readonly ci95: ConfidenceInterval | null;
}

/** Jobs per status; only statuses that occur, in the order of JOB_STATUSES. */
export type StatusCounts = Readonly<Partial<Record<JobStatus, number>>>;

export type MetricStatistics = Readonly<Record<MetricName, SummaryStatistics>>;

/** One variation (a matrix point) over its repeats and folds. */
export interface VariationStatistics {
  readonly variation: string;
  readonly name: string | null;
  readonly axes: Readonly<Record<string, AxisValue>>;
  /** The job indices of this variation, ascending. */
  readonly jobs: readonly number[];
  readonly succeeded: number;
  readonly statusCounts: StatusCounts;
  readonly metrics: MetricStatistics;
}

export interface RankingEntry {
  /** 1 for the best; null when no succeeded job of the variation has the metric (listed last). */
  readonly rank: number | null;
  readonly variation: string;
  readonly axes: Readonly<Record<string, AxisValue>>;
  readonly statistics: SummaryStatistics;
}

/** One value of one axis: the main effect (metrics over all succeeded jobs having it) and failures. */
export interface AxisLevel {
  readonly value: AxisValue;
  readonly jobs: number;
  readonly succeeded: number;
  /** Jobs that did not succeed (any other status). */
  readonly notSucceeded: number;
  /** notSucceeded / jobs. */
  readonly failureRate: number;
  readonly statusCounts: StatusCounts;
  readonly metrics: MetricStatistics;
}

export interface AxisEffects {
  readonly axis: string;
  /** In axis order (the order of first appearance by job index, which is the spec's order). */
  readonly levels: readonly AxisLevel[];
}

export interface StudySummary {
  readonly jobs: number;
  readonly variations: number;
  readonly succeeded: number;
  readonly notSucceeded: number;
  readonly failureRate: number | null;
  readonly statusCounts: StatusCounts;
}

/** What statistics.json holds. JSON-serialisable; no number in it is NaN or infinite. */
export interface StudyStatistics {
  readonly version: 1;
  readonly study: string;
  readonly generatedAt?: string;
  readonly metric: MetricName;
  readonly mode: "max" | "min";
  readonly axes: readonly string[];
  readonly confidence: 0.95;
  readonly summary: StudySummary;
  readonly variations: readonly VariationStatistics[];
  readonly ranking: readonly RankingEntry[];
  readonly axisEffects: readonly AxisEffects[];
}

// ---------------------------------------------------------------------------------------------
// Student t distribution

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error below 1e-15). */
function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ] as const;
  const z = x - 1;
  let a = c[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += (c[i] as number) / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 1000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return h;
}

/** The regularised incomplete beta function I_x(a, b). */
function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2)
    ? (front * betaContinuedFraction(x, a, b)) / a
    : 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** P(T <= t) for Student's t with `df` degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  if (Number.isNaN(t) || !(df > 0)) return Number.NaN;
  if (t === Number.POSITIVE_INFINITY) return 1;
  if (t === Number.NEGATIVE_INFINITY) return 0;
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t > 0 ? 1 - tail : tail;
}

const quantileCache = new Map<string, number>();

/**
 * The p-quantile of Student's t distribution with `df` degrees of freedom (df > 0, not necessarily
 * an integer): the t with P(T <= t) = p. Exact for df = 1 and 2; otherwise the CDF (incomplete beta)
 * is inverted by bisection to full double precision. NaN for p outside (0, 1) or df <= 0.
 */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1) || !(df > 0) || Number.isNaN(df)) return Number.NaN;
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  if (df === 1) return Math.tan(Math.PI * (p - 0.5));
  if (df === 2) {
    const a = 4 * p * (1 - p);
    return 2 * (p - 0.5) * Math.sqrt(2 / a);
  }
  const key = `${p}:${df}`;
  const cached = quantileCache.get(key);
  if (cached !== undefined) return cached;
  // P(T > t) is the upper tail; bracket then bisect on it (precise also for p close to 1).
  const upper = 1 - p;
  const tailAbove = (t: number): number => 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  let lo = 0;
  let hi = 2;
  while (tailAbove(hi) > upper) {
    lo = hi;
    hi *= 2;
    if (hi > 1e300) break;
  }
  for (let i = 0; i < 2000; i++) {
    const mid = 0.5 * (lo + hi);
    if (mid === lo || mid === hi) break;
    if (tailAbove(mid) > upper) lo = mid;
    else hi = mid;
  }
  const result = 0.5 * (lo + hi);
  quantileCache.set(key, result);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Descriptive statistics

/** A finite number, or null. The only way a number gets into StudyStatistics. */
function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/** n, mean, median, std (n - 1), min, max and the 95% t interval of the finite values. */
export function summarize(values: readonly (number | null)[]): SummaryStatistics {
  const xs: number[] = [];
  let nonFinite = 0;
  for (const v of values) {
    if (v === null) continue;
    if (Number.isFinite(v)) xs.push(v);
    else nonFinite++;
  }
  const n = xs.length;
  if (n === 0) {
    return { n, nonFinite, mean: null, median: null, std: null, min: null, max: null, ci95: null };
  }
  const sorted = [...xs].sort((a, b) => a - b);
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  const mid = Math.floor(n / 2);
  const median =
    n % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  let std: number | null = null;
  let ci95: ConfidenceInterval | null = null;
  if (n >= 2) {
    const ss = xs.reduce((s, x) => s + (x - mean) * (x - mean), 0);
    std = finite(Math.sqrt(ss / (n - 1)));
    if (std !== null) {
      const halfWidth = finite((studentTQuantile(0.975, n - 1) * std) / Math.sqrt(n));
      if (halfWidth !== null) {
        const low = finite(mean - halfWidth);
        const high = finite(mean + halfWidth);
        if (low !== null && high !== null) ci95 = { low, high, halfWidth };
      }
    }
  }
  return {
    n,
    nonFinite,
    mean: finite(mean),
    median: finite(median),
    std,
    min: sorted[0] as number,
    max: sorted[n - 1] as number,
    ci95,
  };
}

function metricStatistics(rows: readonly ResultRow[]): MetricStatistics {
  const ok = rows.filter((r) => r.status === "succeeded");
  const pick = (m: MetricName): SummaryStatistics => summarize(ok.map((r) => r.metrics[m]));
  return {
    trainLoss: pick("trainLoss"),
    valLoss: pick("valLoss"),
    amplitudePsnr: pick("amplitudePsnr"),
    amplitudeSsim: pick("amplitudeSsim"),
    phasePsnr: pick("phasePsnr"),
    phaseSsim: pick("phaseSsim"),
  } satisfies Record<keyof JobMetrics, SummaryStatistics>;
}

export function countStatuses(rows: readonly ResultRow[]): StatusCounts {
  const counts: Partial<Record<JobStatus, number>> = {};
  for (const status of JOB_STATUSES) {
    const c = rows.filter((r) => r.status === status).length;
    if (c > 0) counts[status] = c;
  }
  return counts;
}

/** Rows sorted by job index: every output is independent of the order rows were read in. */
export function sortRows(rows: readonly ResultRow[]): ResultRow[] {
  return [...rows].sort((a, b) => a.index - b.index);
}

/** A key telling apart axis values of different types (1e4 and "1e4" are different values). */
export function axisValueKey(value: AxisValue): string {
  return value === null ? "null" : `${typeof value}:${String(value)}`;
}

/** Groups in order of first appearance. */
function groupBy<T>(items: readonly T[], key: (item: T) => string | undefined): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    if (k === undefined) continue;
    const g = groups.get(k);
    if (g) g.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/** The values an axis takes, in axis order (first appearance by job index). */
export function axisLevels(rows: readonly ResultRow[], axis: string): AxisValue[] {
  const seen = new Map<string, AxisValue>();
  for (const row of sortRows(rows)) {
    if (!Object.hasOwn(row.axes, axis)) continue;
    const value = row.axes[axis] as AxisValue;
    const key = axisValueKey(value);
    if (!seen.has(key)) seen.set(key, value);
  }
  return [...seen.values()];
}

function rankingOf(
  variations: readonly VariationStatistics[],
  metric: MetricName,
  mode: "max" | "min",
): RankingEntry[] {
  const sign = mode === "max" ? -1 : 1;
  const order = variations
    .map((v, position) => ({ v, position, mean: v.metrics[metric].mean }))
    .sort((a, b) => {
      if (a.mean === null || b.mean === null) {
        if (a.mean === null && b.mean === null) return a.position - b.position;
        return a.mean === null ? 1 : -1;
      }
      return sign * (a.mean - b.mean) || a.position - b.position;
    });
  return order.map(({ v, mean }, i) => ({
    rank: mean === null ? null : i + 1,
    variation: v.variation,
    axes: v.axes,
    statistics: v.metrics[metric],
  }));
}

/**
 * Statistics of a study from its result rows: per variation (over repeats and folds; only
 * succeeded jobs count toward metric statistics) every metric's n, mean, median, std, min, max and
 * 95% t interval; the ranking of variations by `options.metric` in `options.mode` (variations
 * without the metric last, ties in variation order); and per axis value the metrics over every
 * succeeded job having it (main effects) and the failure rate with counts by status.
 */
export function computeStatistics(rows: readonly ResultRow[], options: ReportOptions): StudyStatistics {
  const sorted = sortRows(rows);
  const variations: VariationStatistics[] = [];
  for (const [variation, group] of groupBy(sorted, (r) => r.variation)) {
    const first = group[0] as ResultRow;
    variations.push({
      variation,
      name: first.name,
      axes: first.axes,
      jobs: group.map((r) => r.index),
      succeeded: group.filter((r) => r.status === "succeeded").length,
      statusCounts: countStatuses(group),
      metrics: metricStatistics(group),
    });
  }
  const axisEffects: AxisEffects[] = options.axes.map((axis) => {
    const groups = groupBy(sorted, (r) =>
      Object.hasOwn(r.axes, axis) ? axisValueKey(r.axes[axis] as AxisValue) : undefined,
    );
    const levels = [...groups.values()].map((group): AxisLevel => {
      const succeeded = group.filter((r) => r.status === "succeeded").length;
      return {
        value: (group[0] as ResultRow).axes[axis] as AxisValue,
        jobs: group.length,
        succeeded,
        notSucceeded: group.length - succeeded,
        failureRate: (group.length - succeeded) / group.length,
        statusCounts: countStatuses(group),
        metrics: metricStatistics(group),
      };
    });
    return { axis, levels };
  });
  const succeeded = sorted.filter((r) => r.status === "succeeded").length;
  return {
    version: 1,
    study: options.studyName,
    ...(options.generatedAt === undefined ? {} : { generatedAt: options.generatedAt }),
    metric: options.metric,
    mode: options.mode,
    axes: [...options.axes],
    confidence: 0.95,
    summary: {
      jobs: sorted.length,
      variations: variations.length,
      succeeded,
      notSucceeded: sorted.length - succeeded,
      failureRate: sorted.length === 0 ? null : (sorted.length - succeeded) / sorted.length,
      statusCounts: countStatuses(sorted),
    },
    variations,
    ranking: rankingOf(variations, options.metric, options.mode),
    axisEffects,
  };
}
