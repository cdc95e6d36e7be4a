import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeSimulatedDataset } from "@trainkit/simulator";
import type { ReportOptions } from "../src/statistics.ts";
import type { ResultRow } from "../src/types.ts";

export function tempDir(prefix = "trainkit-study-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A small simulated train/test pair per dose, in `<dir>/data/dose_<text>/`. */
export async function writeDoseData(dir: string, doses: readonly string[], positions = 40): Promise<void> {
  for (const dose of doses) {
    const folder = join(dir, "data", `dose_${dose}`);
    mkdirSync(folder, { recursive: true });
    await writeSimulatedDataset({
      trainOut: join(folder, "train.npz"),
      testOut: join(folder, "test.npz"),
      testCount: 12,
      N: 64,
      positions,
      nphotons: Number(dose),
      seed: 1,
    });
  }
}

export function writeText(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The rows of `fixtures/report/<name>` (a dose x loss study with one failed and one timed-out job). */
export function reportFixture(name = "dose-rows.json"): ResultRow[] {
  return JSON.parse(
    readFileSync(new URL(`./fixtures/report/${name}`, import.meta.url), "utf8"),
  ) as ResultRow[];
}

/** The report options of that fixture. */
export const DOSE_OPTIONS: ReportOptions = {
  studyName: "dose",
  metric: "amplitudePsnr",
  mode: "max",
  axes: ["training.nphotons", "loss"],
};
