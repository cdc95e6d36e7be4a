import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "@trainkit/launcher";
import { renderReport, resultsCsv } from "./report.ts";
import { collectResults } from "./results.ts";
import { computeStatistics } from "./statistics.ts";

/** What `writeStudyOutputs` wrote. */
export interface WrittenOutputs {
  /** One line: counts by status and the best variation. */
  readonly summary: string;
  /** Label -> path of each file written. */
  readonly files: Readonly<Record<string, string>>;
}

/**
 * Writes a study's results from its directory alone (study manifest, journal, run directories):
 * results.json and results.csv, statistics.json, report.md, report.html and figures/*.svg. The same
 * study directory gives the same bytes, whichever executor ran it.
 */
export async function writeStudyOutputs(studyDir: string): Promise<WrittenOutputs> {
  const { manifest, rows } = await collectResults(studyDir);
  const options = {
    studyName: manifest.study,
    metric: manifest.report.metric,
    mode: manifest.report.mode,
    axes: manifest.axes,
  };
  const statistics = computeStatistics(rows, options);
  const report = await renderReport(rows, statistics, options);
  const files = {
    results: join(studyDir, "results.csv"),
    "results (JSON)": join(studyDir, "results.json"),
    statistics: join(studyDir, "statistics.json"),
    report: join(studyDir, "report.html"),
    "report (text)": join(studyDir, "report.md"),
  };
  await writeFileAtomic(files.results, resultsCsv(rows, manifest.axes));
  await writeJsonAtomic(files["results (JSON)"], rows);
  await writeJsonAtomic(files.statistics, statistics);
  await mkdir(join(studyDir, "figures"), { recursive: true });
  for (const figure of report.figures)
    await writeFile(join(studyDir, "figures", `${figure.name}.svg`), figure.svg);
  await writeFileAtomic(files["report (text)"], report.markdown);
  await writeFileAtomic(files.report, report.html);
  const counts = Object.entries(statistics.summary.statusCounts)
    .filter(([, n]) => (n ?? 0) > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(", ");
  const best = statistics.ranking[0];
  return {
    summary: `${counts}${best && best.rank !== null && best.statistics.mean !== null ? `; best ${manifest.report.metric}: ${best.variation} (mean ${best.statistics.mean.toPrecision(4)}, n ${best.statistics.n})` : ""}`,
    files,
  };
}
