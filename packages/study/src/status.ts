import { countStatuses } from "./internal/util.ts";
import { liveMetrics, summary } from "./progress.ts";
import { collectResults } from "./results.ts";

/** A table of every job's state, from the journal and run directories (works from any shell). */
export async function studyStatus(studyDir: string): Promise<string> {
  const { manifest, rows } = await collectResults(studyDir);
  const counts = countStatuses([]);
  const lines: string[][] = [
    ["index", "label", "status", "attempts", "duration", manifest.report.metric, "progress"],
  ];
  for (const row of rows) {
    counts[row.status]++;
    const live = row.status === "running" ? await liveMetrics(row.runDir) : undefined;
    const metric = row.metrics[manifest.report.metric];
    lines.push([
      String(row.index),
      row.label,
      row.status,
      String(row.attempts),
      row.durationSeconds === null ? "" : `${row.durationSeconds.toFixed(1)} s`,
      metric === null ? "" : metric.toPrecision(4),
      live ? `epoch ${live.epoch}${live.loss !== null ? `, loss ${live.loss.toPrecision(4)}` : ""}` : "",
    ]);
  }
  const widths = (lines[0] ?? []).map((_, i) => Math.max(...lines.map((l) => (l[i] ?? "").length)));
  const table = lines
    .map((l) =>
      l
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
  return `study ${manifest.study} (${studyDir}): ${summary(counts)}\n${table}\n`;
}
