// Start-up budget (architecture.md §8): `trainkit-train --help` and `--dry-run --print-config` must
// take under 1.5x the start-up of a bare `node -e 0` on the same machine (tests/startup.test.ts checks
// that they never load TensorFlow.js). Each case spawns real processes, interleaved so that machine noise hits all alike;
// prints the medians and the ratios. Run by `pnpm bench` (after bundling the commands).
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeDataset } from "../packages/factory/test/helpers.ts";
import { bundle } from "./bundle-bins.mjs";

await bundle("train-cli");
const dir = mkdtempSync(join(tmpdir(), "trainkit-startup-"));
const train = await writeDataset(join(dir, "train.npz"), { N: 64, M: 8 });
const bin = join(import.meta.dirname, "../packages/train-cli/bin/trainkit-train.js");
const cases: Record<string, readonly string[]> = {
  "node -e 0": ["-e", "0"],
  "trainkit-train --help": [bin, "--help"],
  "trainkit-train --dry-run --print-config": [
    bin,
    "--train-data-file",
    train,
    "--n-groups",
    "8",
    "--output-dir",
    join(dir, "run"),
    "--dry-run",
    "--print-config",
  ],
};
const samples: Record<string, number[]> = {};
const rounds = Number(process.env.ROUNDS ?? 40);
for (let round = 0; round < rounds + 3; round++) {
  for (const [name, args] of Object.entries(cases)) {
    const start = performance.now();
    const result = spawnSync(process.execPath, args, {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "" },
    });
    const ms = performance.now() - start;
    if (result.status !== 0) throw new Error(`${name} failed: ${result.stderr}`);
    if (round >= 3) samples[name] = [...(samples[name] ?? []), ms];
  }
}
const median = (values: readonly number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
const node = median(samples["node -e 0"] ?? []);
for (const name of Object.keys(cases)) {
  const ms = median(samples[name] ?? []);
  const ratio = ms / node;
  const verdict =
    name === "node -e 0" ? "" : ratio <= 1.5 ? "  within the 1.5x budget" : "  OVER the 1.5x budget";
  console.log(`${name.padEnd(42)} median ${ms.toFixed(1).padStart(6)} ms  ${ratio.toFixed(2)}x${verdict}`);
}
