import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeDataset } from "../packages/factory/test/helpers.ts";
import { BINS, ROOT, tempDir } from "./helpers.ts";

const dir = tempDir();
const train = await writeDataset(join(dir, "train.npz"), { N: 64, M: 8 });

function importsOf(args: readonly string[]): string[] {
  const trace = join(dir, `trace-${Math.random().toString(36).slice(2)}.txt`);
  const result = spawnSync(
    process.execPath,
    ["--import", join(ROOT, "tests/fixtures/trace-imports.mjs"), BINS.train, ...args],
    {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", TRACE_IMPORTS: trace },
    },
  );
  expect(result.status).toBe(0);
  return readFileSync(trace, "utf8").split("\n").filter(Boolean);
}

describe("start-up paths", () => {
  it.each([
    [["--help"]],
    [
      [
        "--train-data-file",
        train,
        "--n-groups",
        "8",
        "--output-dir",
        join(dir, "run"),
        "--dry-run",
        "--print-config",
      ],
    ],
    [["--train-data-file", train, "--n-groups", "8", "--explain", "model.N"]],
  ])("never load TensorFlow.js, the engine or the plotting libraries (%j)", (args) => {
    const imports = importsOf(args);
    // --help prints the pre-rendered text without importing the bundle at all.
    expect(imports.some((s) => s.includes("bin.js"))).toBe(!args.includes("--help"));
    expect(imports.filter((s) => /tensorflow|engine|vega|resvg|src-\w+\.js$/.test(s))).toEqual([]);
  });
});
