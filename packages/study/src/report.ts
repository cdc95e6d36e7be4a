import { type Block, type Inline, type ReportDocument, toHtml, toMarkdown } from "./report/document.ts";
import { type ReportFigure, renderFigures } from "./report/figures.ts";
import {
  directionText,
  formatAxisValue,
  formatPercent,
  formatStat,
  METRIC_LABELS,
  metricTitle,
} from "./report/format.ts";
import {
  METRIC_NAMES,
  type ReportOptions,
  type StatusCounts,
  type StudyStatistics,
  type SummaryStatistics,
  sortRows,
} from "./statistics.ts";
import { JOB_STATUSES, type MetricName, type ResultRow } from "./types.ts";

export { resultsCsv } from "./report/csv.ts";
export type { ReportFigure } from "./report/figures.ts";

/** What renderReport returns: the integrator writes report.md, report.html and figures/<name>.svg. */
export interface RenderedReport {
  readonly markdown: string;
  readonly html: string;
  readonly figures: readonly ReportFigure[];
}

const DEFAULT_TOP = 10;
/** At most this many jobs are listed one by one in the failures table. */
const MAX_FAILED_LISTED = 50;

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function statusList(counts: StatusCounts): string {
  return JOB_STATUSES.filter((s) => (counts[s] ?? 0) > 0)
    .map((s) => `${counts[s]} ${s}`)
    .join(", ");
}

/** `23.46 ± 0.5213`, or the mean alone when there is no interval. */
function meanCell(s: SummaryStatistics): string {
  if (s.mean === null) return "–";
  return s.ci95 === null ? formatStat(s.mean) : `${formatStat(s.mean)} ± ${formatStat(s.ci95.halfWidth)}`;
}

function statColumns(s: SummaryStatistics): string[] {
  return [String(s.n), meanCell(s), formatStat(s.std), formatStat(s.min), formatStat(s.max)];
}

const STAT_HEADER = ["n", "mean ± 95% CI", "std", "min", "max"] as const;
const STAT_ALIGN = ["right", "right", "right", "right", "right"] as const;

function summaryBlocks(statistics: StudyStatistics, options: ReportOptions): Block[] {
  const s = statistics.summary;
  const axes = options.axes;
  const content: Inline[] = [{ strong: plural(s.jobs, "job") }, ` in ${plural(s.variations, "variation")}`];
  if (axes.length > 0) {
    content.push(` over ${plural(axes.length, "axis", "axes")} (`);
    axes.forEach((a, i) => {
      if (i > 0) content.push(", ");
      content.push({ code: a });
    });
    content.push(")");
  }
  content.push(s.jobs > 0 ? `: ${statusList(s.statusCounts)}.` : ".");
  const method: Inline[] = [
    "Variations are ranked by ",
    { strong: metricTitle(statistics.metric) },
    ` (${directionText(statistics.mode)}). Statistics of a variation are over its repeats and folds and count succeeded jobs only; `,
    "std is the sample standard deviation (n − 1) and the interval is the two-sided 95% Student t interval of the mean (shown for n ≥ 2).",
  ];
  const blocks: Block[] = [
    { kind: "heading", level: 2, text: "Summary", id: "summary" },
    { kind: "paragraph", content },
    { kind: "paragraph", content: method },
  ];
  if (s.jobs > 0) {
    blocks.push({
      kind: "table",
      header: ["status", "jobs", "share"],
      align: ["left", "right", "right"],
      rows: JOB_STATUSES.filter((st) => (s.statusCounts[st] ?? 0) > 0).map((st) => [
        st,
        String(s.statusCounts[st]),
        formatPercent((s.statusCounts[st] ?? 0) / s.jobs),
      ]),
    });
  }
  return blocks;
}

function rankingBlocks(statistics: StudyStatistics, options: ReportOptions): Block[] {
  const metric = statistics.metric;
  const top = Math.max(1, Math.floor(options.top ?? DEFAULT_TOP));
  const blocks: Block[] = [
    {
      kind: "heading",
      level: 2,
      text: `Ranking by ${metricTitle(metric)} (${directionText(statistics.mode)})`,
      id: "ranking",
    },
  ];
  const ranked = statistics.ranking.filter((r) => r.rank !== null);
  if (ranked.length === 0) {
    blocks.push({
      kind: "paragraph",
      content: [
        `No succeeded job recorded ${metricTitle(metric)} (`,
        { code: metric },
        "): there is nothing to rank.",
      ],
    });
    return blocks;
  }
  const shown = statistics.ranking.slice(0, top);
  blocks.push({
    kind: "table",
    header: ["rank", "variation", ...options.axes, ...STAT_HEADER],
    align: ["right", "left", ...options.axes.map(() => "left" as const), ...STAT_ALIGN],
    rows: shown.map((r) => [
      r.rank === null ? "–" : String(r.rank),
      r.variation,
      ...options.axes.map((a) => formatAxisValue(Object.hasOwn(r.axes, a) ? r.axes[a] : undefined)),
      ...statColumns(r.statistics),
    ]),
  });
  const notes: string[] = [];
  if (statistics.ranking.length > shown.length) {
    notes.push(
      `The top ${shown.length} of ${statistics.ranking.length} variations; statistics.json has all of them.`,
    );
  }
  const unranked = statistics.ranking.length - ranked.length;
  if (unranked > 0) {
    notes.push(
      `${plural(unranked, "variation")} without a succeeded job recording ${metricTitle(metric)} ${
        unranked === 1 ? "is" : "are"
      } listed last, unranked.`,
    );
  }
  if (notes.length > 0) blocks.push({ kind: "paragraph", content: [notes.join(" ")] });
  return blocks;
}

function metricsTableBlocks(statistics: StudyStatistics, options: ReportOptions): Block[] {
  const metrics = METRIC_NAMES.filter((m) => statistics.variations.some((v) => v.metrics[m].n > 0));
  if (metrics.length < 2) return [];
  const top = Math.max(1, Math.floor(options.top ?? DEFAULT_TOP));
  const byName = new Map(statistics.variations.map((v) => [v.variation, v]));
  const order = statistics.ranking.slice(0, top).map((r) => byName.get(r.variation));
  return [
    { kind: "heading", level: 2, text: "Every metric", id: "metrics" },
    {
      kind: "paragraph",
      content: ["Mean ± 95% CI of every recorded metric, for the variations of the ranking, in its order."],
    },
    {
      kind: "table",
      header: ["variation", ...metrics.map((m) => METRIC_LABELS[m])],
      align: ["left", ...metrics.map(() => "right" as const)],
      rows: order.flatMap((v) =>
        v === undefined ? [] : [[v.variation, ...metrics.map((m) => meanCell(v.metrics[m]))]],
      ),
    },
  ];
}

function mainEffectBlocks(statistics: StudyStatistics): Block[] {
  if (statistics.axisEffects.length === 0) return [];
  const metric: MetricName = statistics.metric;
  const blocks: Block[] = [
    { kind: "heading", level: 2, text: "Main effects", id: "main-effects" },
    {
      kind: "paragraph",
      content: [
        `Mean ${metricTitle(metric)} per axis value, over every succeeded job having that value (all values of the other axes together).`,
      ],
    },
  ];
  for (const effect of statistics.axisEffects) {
    blocks.push({ kind: "heading", level: 3, text: effect.axis });
    blocks.push({
      kind: "table",
      header: [effect.axis, "jobs", "succeeded", ...STAT_HEADER],
      align: ["left", "right", "right", ...STAT_ALIGN],
      rows: effect.levels.map((l) => [
        formatAxisValue(l.value),
        String(l.jobs),
        String(l.succeeded),
        ...statColumns(l.metrics[metric]),
      ]),
    });
  }
  return blocks;
}

function failureBlocks(rows: readonly ResultRow[], statistics: StudyStatistics): Block[] {
  const blocks: Block[] = [{ kind: "heading", level: 2, text: "Failures", id: "failures" }];
  const s = statistics.summary;
  if (s.jobs === 0) {
    blocks.push({ kind: "paragraph", content: ["The study has no jobs."] });
    return blocks;
  }
  if (s.notSucceeded === 0) {
    blocks.push({ kind: "paragraph", content: [`Every job succeeded (${plural(s.jobs, "job")}).`] });
    return blocks;
  }
  const failed = sortRows(rows).filter((r) => r.status !== "succeeded");
  blocks.push({
    kind: "paragraph",
    content: [
      `${s.notSucceeded} of ${plural(s.jobs, "job")} (${formatPercent(s.notSucceeded / s.jobs)}) did not succeed: ${statusList(
        Object.fromEntries(Object.entries(s.statusCounts).filter(([k]) => k !== "succeeded")),
      )}.`,
    ],
  });
  blocks.push({
    kind: "table",
    header: ["job", "label", "status", "attempts", "exit code"],
    align: ["right", "left", "left", "right", "right"],
    rows: failed
      .slice(0, MAX_FAILED_LISTED)
      .map((r) => [
        String(r.index),
        r.label,
        r.status,
        String(r.attempts),
        r.exitCode === null ? "–" : String(r.exitCode),
      ]),
  });
  if (failed.length > MAX_FAILED_LISTED) {
    blocks.push({
      kind: "paragraph",
      content: [`The first ${MAX_FAILED_LISTED} of ${failed.length}; results.csv lists every job.`],
    });
  }
  if (statistics.axisEffects.length > 0) {
    blocks.push({ kind: "heading", level: 3, text: "Failure rate per axis value" });
    blocks.push({
      kind: "table",
      header: ["axis", "value", "jobs", "not succeeded", "rate", "by status"],
      align: ["left", "left", "right", "right", "right", "left"],
      rows: statistics.axisEffects.flatMap((e) =>
        e.levels.map((l) => [
          e.axis,
          formatAxisValue(l.value),
          String(l.jobs),
          String(l.notSucceeded),
          formatPercent(l.failureRate),
          statusList(l.statusCounts),
        ]),
      ),
    });
  }
  return blocks;
}

/** The report as a document (tables and figures), before it is written as markdown or HTML. */
export function buildReportDocument(
  rows: readonly ResultRow[],
  statistics: StudyStatistics,
  options: ReportOptions,
  figures: readonly ReportFigure[],
): ReportDocument {
  const title = `Study ${options.studyName}`;
  const blocks: Block[] = [{ kind: "heading", level: 1, text: title }];
  if (options.generatedAt !== undefined) {
    blocks.push({ kind: "paragraph", content: [`Generated ${options.generatedAt}.`] });
  }
  blocks.push(...summaryBlocks(statistics, options));
  blocks.push(...rankingBlocks(statistics, options));
  blocks.push(...mainEffectBlocks(statistics));
  blocks.push(...metricsTableBlocks(statistics, options));
  blocks.push(...failureBlocks(rows, statistics));
  if (figures.length > 0) {
    blocks.push({ kind: "heading", level: 2, text: "Figures", id: "figures" });
    let section: string | null = null;
    for (const f of figures) {
      const heading = f.metric === null ? "Failures" : metricTitle(f.metric);
      if (heading !== section) {
        blocks.push({ kind: "heading", level: 3, text: heading });
        section = heading;
      }
      blocks.push({ kind: "figure", name: f.name, title: f.title, svg: f.svg });
    }
  }
  return { title, blocks };
}

/**
 * report.md, a self-contained report.html (inline CSS and SVG, no script, no URL) and the figures
 * as SVG (report.md links `figures/<name>.svg`). The same rows, statistics and options give the same
 * bytes: rows are taken in job-index order and no time is written unless `options.generatedAt` is.
 */
export async function renderReport(
  rows: readonly ResultRow[],
  statistics: StudyStatistics,
  options: ReportOptions,
): Promise<RenderedReport> {
  const sorted = sortRows(rows);
  const figures = await renderFigures(sorted, statistics, options);
  const doc = buildReportDocument(sorted, statistics, options, figures);
  return { markdown: toMarkdown(doc), html: toHtml(doc), figures };
}
