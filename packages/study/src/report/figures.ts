import { renderSvg } from "@trainkit/figures";
import {
  type AxisLevel,
  axisValueKey,
  type ReportOptions,
  type StudyStatistics,
  summarize,
} from "../statistics.ts";
import { type AxisValue, JOB_STATUSES, type JobStatus, type MetricName, type ResultRow } from "../types.ts";
import { formatAxisValue, formatPercent, METRIC_LABELS, metricTitle, slug } from "./format.ts";

/** A rendered figure: report.md references it as `figures/<name>.svg`. */
export interface ReportFigure {
  readonly name: string;
  /** The metric drawn; null for the failure chart. */
  readonly metric: MetricName | null;
  readonly title: string;
  readonly svg: string;
}

/** An axis a figure can be drawn over: a matrix axis, or the variation label when there is none. */
interface PlotAxis {
  readonly name: string;
  readonly get: (row: ResultRow) => AxisValue | undefined;
}

function plotAxes(options: ReportOptions): PlotAxis[] {
  if (options.axes.length === 0) {
    return [{ name: "variation", get: (row) => row.variation }];
  }
  return options.axes.map((name) => ({
    name,
    get: (row) => (Object.hasOwn(row.axes, name) ? row.axes[name] : undefined),
  }));
}

/** The values of a plot axis in axis order (first appearance by job index). */
function levelsOf(rows: readonly ResultRow[], axis: PlotAxis): AxisValue[] {
  const seen = new Map<string, AxisValue>();
  for (const row of rows) {
    const v = axis.get(row);
    if (v === undefined) continue;
    const k = axisValueKey(v);
    if (!seen.has(k)) seen.set(k, v);
  }
  return [...seen.values()];
}

/**
 * How the x axis is drawn: quantitative when there are 2+ values and every one is a finite number
 * (log when they are positive and span more than 2 decades), ordinal otherwise.
 */
export type XScale = "log" | "linear" | "ordinal";

export function xScaleFor(values: readonly AxisValue[]): XScale {
  const numbers = values.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  if (numbers.length < 2 || numbers.length !== values.length) return "ordinal";
  const lo = Math.min(...numbers);
  const hi = Math.max(...numbers);
  return lo > 0 && hi / lo > 100 ? "log" : "linear";
}

const FONT = "Helvetica, Arial, sans-serif";

const CONFIG = {
  font: FONT,
  background: "white",
  padding: 8,
  title: { anchor: "start", fontSize: 15, fontWeight: 600, subtitleFontSize: 12, subtitleColor: "#555" },
  axis: { labelFontSize: 12, titleFontSize: 13, titleFontWeight: 600, gridColor: "#e8e8e8" },
  legend: { labelFontSize: 12, titleFontSize: 13, titleFontWeight: 600 },
  view: { stroke: "#ccc" },
} as const;

/** A vega expression literal for a string array (JSON string escapes are valid there). */
function literalArray(values: readonly (string | number)[]): string {
  return `[${values.map((v) => JSON.stringify(v)).join(",")}]`;
}

/**
 * Series side by side at one x, as ggplot's position_dodge: on a quantitative axis each series is
 * moved by a small fixed share of the axis span (in log space on a log axis), so the error bars of
 * different series do not hide each other. Ticks stay at the true values.
 */
function dodge(
  levels: readonly AxisValue[],
  scale: XScale,
  series: number,
): (x: number, seriesIndex: number) => number {
  if (scale === "ordinal" || series < 2) return (x) => x;
  const numbers = levels as number[];
  const t = scale === "log" ? Math.log10 : (x: number): number => x;
  const back = scale === "log" ? (y: number): number => 10 ** y : (y: number): number => y;
  const span = t(Math.max(...numbers)) - t(Math.min(...numbers));
  const step = span * Math.min(0.025, 0.1 / series);
  return (x, i) => back(t(x) + (i - (series - 1) / 2) * step);
}

/**
 * Words wrapped into lines of at most `width` characters. Headless vega estimates text widths
 * (0.8 em a character, wider than real text) and sizes the SVG to fit, so a long line would leave a
 * wide blank margin.
 */
export function wrap(text: string, width = 56): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}

interface PointDatum {
  /** Where the point is drawn: the value, moved a little aside per series on a quantitative axis. */
  x: number | string;
  /** The axis value as labelled. */
  value: string;
  /** What a screen reader says of the point (the SVG's aria-label). */
  description: string;
  series: string;
  mean: number;
  low: number | null;
  high: number | null;
  n: number;
}

/** The vega-lite spec of one metric over one axis, or null when no succeeded job has the metric. */
export function metricFigureSpec(
  rows: readonly ResultRow[],
  metric: MetricName,
  xAxis: PlotAxis,
  colorAxis: PlotAxis | null,
  averagedOver: readonly string[],
): Record<string, unknown> | null {
  const xLevels = levelsOf(rows, xAxis);
  const colorLevels = colorAxis ? levelsOf(rows, colorAxis) : [];
  const scale = xScaleFor(xLevels);
  const ok = rows.filter(
    (r) => r.status === "succeeded" && r.metrics[metric] !== null && Number.isFinite(r.metrics[metric]),
  );
  const data: PointDatum[] = [];
  let jobs = 0;
  const place = dodge(xLevels, scale, colorAxis ? colorLevels.length : 1);
  for (const xv of xLevels) {
    for (const [ci, cv] of (colorAxis ? colorLevels : [null]).entries()) {
      const group = ok.filter(
        (r) =>
          xAxis.get(r) !== undefined &&
          axisValueKey(xAxis.get(r) as AxisValue) === axisValueKey(xv) &&
          (!colorAxis ||
            (colorAxis.get(r) !== undefined &&
              axisValueKey(colorAxis.get(r) as AxisValue) === axisValueKey(cv))),
      );
      const s = summarize(group.map((r) => r.metrics[metric]));
      if (s.mean === null) continue;
      jobs += s.n;
      data.push({
        x: scale === "ordinal" ? formatAxisValue(xv) : place(xv as number, ci),
        value: formatAxisValue(xv),
        description: [
          `${xAxis.name} = ${formatAxisValue(xv)}`,
          ...(colorAxis ? [`${colorAxis.name} = ${formatAxisValue(cv)}`] : []),
          `mean = ${s.mean}`,
          `n = ${s.n}`,
          ...(s.ci95 ? [`95% CI = ${s.ci95.low} to ${s.ci95.high}`] : []),
        ].join("; "),
        series: colorAxis ? formatAxisValue(cv) : "",
        mean: s.mean,
        low: s.ci95?.low ?? null,
        high: s.ci95?.high ?? null,
        n: s.n,
      });
    }
  }
  if (data.length === 0) return null;

  const xLabels = xLevels.map(formatAxisValue);
  const xEncoding: Record<string, unknown> =
    scale === "ordinal"
      ? {
          field: "x",
          type: "ordinal",
          sort: xLabels,
          title: xAxis.name,
          axis: { labelAngle: xLabels.some((l) => l.length > 8) ? -30 : 0 },
        }
      : {
          field: "x",
          type: "quantitative",
          title: xAxis.name,
          scale:
            scale === "log"
              ? { type: "log", nice: false, padding: 24 }
              : { zero: false, nice: false, padding: 24 },
          axis: {
            values: xLevels,
            grid: true,
            labelExpr: `${literalArray(xLabels)}[indexof(${literalArray(xLevels as number[])}, datum.value)]`,
            labelFlush: false,
          },
        };
  const seriesLabels = colorLevels.map(formatAxisValue);
  const color = colorAxis && {
    field: "series",
    type: "nominal",
    sort: seriesLabels,
    title: colorAxis.name,
    scale: { scheme: seriesLabels.length > 10 ? "category20" : "tableau10" },
  };
  const encoding = {
    x: xEncoding,
    ...(color ? { color } : {}),
    ...(color && scale === "ordinal" ? { xOffset: { field: "series", sort: seriesLabels } } : {}),
  };
  const yTitle = METRIC_LABELS[metric];
  const over = averagedOver.length > 0 ? `, averaged over ${averagedOver.join(", ")}` : "";
  const withBars = data.some((d) => d.low !== null);
  return {
    title: {
      text: `${metricTitle(metric)} vs ${xAxis.name}`,
      subtitle: wrap(
        `${jobs} succeeded job${jobs === 1 ? "" : "s"}. Points: mean per ${
          colorAxis ? `${xAxis.name} and ${colorAxis.name}` : xAxis.name
        }${over}.${withBars ? " Bars: 95% t interval (n ≥ 2)." : ""}`,
      ),
    },
    width: 440,
    height: 280,
    data: { values: data },
    encoding,
    layer: [
      {
        name: "lines",
        mark: { type: "line", strokeWidth: 2, opacity: 0.85 },
        encoding: {
          y: { field: "mean", type: "quantitative", title: yTitle, scale: { zero: false } },
          ...(colorAxis ? { detail: { field: "series" } } : {}),
        },
      },
      {
        name: "bars",
        transform: [{ filter: "isValid(datum.low) && isValid(datum.high)" }],
        mark: { type: "errorbar", ticks: { size: 8 }, thickness: 1.5 },
        encoding: {
          y: { field: "low", type: "quantitative", title: yTitle },
          y2: { field: "high" },
        },
      },
      {
        name: "points",
        mark: { type: "point", filled: true, size: 70, opacity: 1 },
        encoding: {
          y: { field: "mean", type: "quantitative", title: yTitle },
          description: { field: "description" },
        },
      },
    ],
    config: CONFIG,
  };
}

const STATUS_COLORS = {
  pending: "#aec7e8",
  running: "#1f77b4",
  succeeded: "#2ca02c",
  failed: "#d62728",
  timeout: "#ff7f0e",
  out_of_memory: "#9467bd",
  node_fail: "#8c564b",
  preempted: "#bcbd22",
  cancelled: "#7f7f7f",
  interrupted: "#e377c2",
  skipped: "#c7c7c7",
  suspect: "#17becf",
} as const satisfies Record<JobStatus, string>;

interface FailureDatum {
  value: string;
  status: JobStatus;
  order: number;
  rate: number;
  count: number;
  jobs: number;
}

/** Shares of jobs that did not succeed, by status, per value of each axis; null without failures. */
export function failureFigureSpec(
  statistics: StudyStatistics,
  options: ReportOptions,
): Record<string, unknown> | null {
  if (statistics.summary.notSucceeded === 0) return null;
  const panels: { axis: string; levels: AxisLevel[] }[] =
    options.axes.length > 0
      ? statistics.axisEffects.map((e) => ({ axis: e.axis, levels: [...e.levels] }))
      : [{ axis: "variation", levels: variationLevels(statistics) }];
  const statuses = JOB_STATUSES.filter(
    (s) => s !== "succeeded" && (statistics.summary.statusCounts[s] ?? 0) > 0,
  );
  const children = panels
    .filter((p) => p.levels.length > 0)
    .map((p) => {
      const labels = p.levels.map((l) => formatAxisValue(l.value));
      const data: FailureDatum[] = [];
      p.levels.forEach((level, i) => {
        for (const status of statuses) {
          const count = level.statusCounts[status] ?? 0;
          if (count === 0) continue;
          data.push({
            value: labels[i] as string,
            status,
            order: JOB_STATUSES.indexOf(status),
            rate: count / level.jobs,
            count,
            jobs: level.jobs,
          });
        }
      });
      return {
        name: `failures_${slug(p.axis).replaceAll("-", "_")}`,
        width: 440,
        height: { step: 22 },
        data: { values: data },
        mark: { type: "bar", stroke: "white", strokeWidth: 0.5 },
        encoding: {
          y: { field: "value", type: "ordinal", sort: labels, scale: { domain: labels }, title: p.axis },
          x: {
            field: "rate",
            type: "quantitative",
            stack: "zero",
            scale: { domain: [0, 1] },
            axis: { format: "%" },
            title: "share of jobs",
          },
          color: {
            field: "status",
            type: "nominal",
            sort: statuses,
            scale: { domain: statuses, range: statuses.map((s) => STATUS_COLORS[s]) },
            title: "status",
          },
          order: { field: "order" },
        },
      };
    });
  if (children.length === 0) return null;
  const s = statistics.summary;
  return {
    title: {
      text: "Jobs that did not succeed, per axis value",
      subtitle: `${s.notSucceeded} of ${s.jobs} jobs (${formatPercent(s.notSucceeded / s.jobs)})`,
    },
    vconcat: children,
    resolve: { scale: { color: "shared" } },
    config: CONFIG,
  };
}

function variationLevels(statistics: StudyStatistics): AxisLevel[] {
  return statistics.variations.map((v) => ({
    value: v.variation,
    jobs: v.jobs.length,
    succeeded: v.succeeded,
    notSucceeded: v.jobs.length - v.succeeded,
    failureRate: (v.jobs.length - v.succeeded) / v.jobs.length,
    statusCounts: v.statusCounts,
    metrics: v.metrics,
  }));
}

/** The reconstruction-quality metrics (of the infer step), drawn besides the ranking metric. */
export const QUALITY_METRICS = [
  "amplitudePsnr",
  "amplitudeSsim",
  "phasePsnr",
  "phaseSsim",
] as const satisfies readonly MetricName[];

/** The metrics figures are drawn for: the ranking metric first, then the quality metrics with data. */
export function plottedMetrics(statistics: StudyStatistics): MetricName[] {
  const hasData = (m: MetricName): boolean => statistics.variations.some((v) => v.metrics[m].n > 0);
  const others = QUALITY_METRICS.filter((m) => m !== statistics.metric);
  return [statistics.metric, ...others].filter(hasData);
}

/** Every figure of the report, rendered to SVG, in report order. */
export async function renderFigures(
  rows: readonly ResultRow[],
  statistics: StudyStatistics,
  options: ReportOptions,
): Promise<ReportFigure[]> {
  const axes = plotAxes(options);
  const planned: {
    name: string;
    metric: MetricName | null;
    title: string;
    spec: Record<string, unknown>;
  }[] = [];
  const used = new Set<string>();
  const unique = (base: string): string => {
    let name = base;
    for (let i = 2; used.has(name); i++) name = `${base}-${i}`;
    used.add(name);
    return name;
  };
  for (const metric of plottedMetrics(statistics)) {
    for (const xAxis of axes) {
      const colorAxis = axes.find((a) => a !== xAxis) ?? null;
      const averagedOver = axes.filter((a) => a !== xAxis && a !== colorAxis).map((a) => a.name);
      const spec = metricFigureSpec(rows, metric, xAxis, colorAxis, averagedOver);
      if (spec === null) continue;
      planned.push({
        name: unique(`${slug(metric)}-vs-${slug(xAxis.name)}`),
        metric,
        title: `${metricTitle(metric)} vs ${xAxis.name}`,
        spec,
      });
    }
  }
  const failures = failureFigureSpec(statistics, options);
  if (failures !== null) {
    planned.push({
      name: unique("failure-rate"),
      metric: null,
      title: "Jobs that did not succeed",
      spec: failures,
    });
  }
  const figures: ReportFigure[] = [];
  for (const p of planned) {
    figures.push({
      name: p.name,
      metric: p.metric,
      title: p.title,
      svg: await renderSvg(p.spec),
    });
  }
  return figures;
}
