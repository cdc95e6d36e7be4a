import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeSimulatedDataset } from "@trainkit/data";

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
