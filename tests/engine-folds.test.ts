// k-fold validation in the embedded engine: training on the positions outside fold foldIndex of the
// training file, val_loss on exactly that fold's positions (recorded in folds.json and the details).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { assignSpatialFolds, loadNpz, splitFold } from "@trainkit/data";
import { train } from "@trainkit/engine";
import { createTrainingPayload } from "@trainkit/factory";
import { writeSimulatedDataset } from "@trainkit/simulator";
import { describe, expect, it } from "vitest";
import { CPU_PIPE } from "../packages/factory/test/helpers.ts";
import { tempDir } from "./helpers.ts";

const dir = tempDir("trainkit-folds-");
const trainFile = join(dir, "train.npz");
const testFile = join(dir, "test.npz");
await writeSimulatedDataset({
  N: 64,
  positions: 40,
  seed: 5,
  trainOut: trainFile,
  testOut: testFile,
  testFraction: 0.2,
});

async function trainFold(foldIndex: number | null, name: string) {
  const runDir = join(dir, name);
  const payload = await createTrainingPayload({
    trainDataFile: trainFile,
    outputDir: runDir,
    overrides: {
      model: { nFiltersScale: 1 },
      training: {
        testDataFile: testFile,
        nGroups: 64,
        nepochs: 1,
        batchSize: 8,
        ...(foldIndex === null ? {} : { foldCount: 3, foldIndex }),
      },
    },
    execution: { seed: 4, computeThreads: 1 },
    environment: CPU_PIPE,
  });
  const result = await train({
    payload,
    runDir,
    resume: false,
    signal: new AbortController().signal,
    io: { stdout: () => {}, stderr: () => {} },
  });
  expect(result.status, result.message).toBe("succeeded");
  return {
    runDir,
    details: result.details as Record<string, unknown> & { lastMetrics: { val_loss: number } },
  };
}

describe("train with training.foldCount", () => {
  it("validates on exactly the held-out fold's positions, trains on the others", async () => {
    const { arrays } = await loadNpz(trainFile, { keys: ["xcoords", "ycoords"] });
    const x = arrays.get("xcoords")!.data as Float64Array;
    const y = arrays.get("ycoords")!.data as Float64Array;
    const M = x.length;
    const expected = splitFold(assignSpatialFolds(x, y, 3), 1);

    const one = await trainFold(1, "fold-1");
    const recorded = JSON.parse(readFileSync(join(one.runDir, "folds.json"), "utf8"));
    expect(recorded).toMatchObject({ foldCount: 3, foldIndex: 1, trainDataFile: trainFile });
    expect(recorded.validationPositions).toEqual([...expected.validation]);
    expect(recorded.trainPositions).toEqual([...expected.train]);
    expect(recorded.validationPositions.length + recorded.trainPositions.length).toBe(M);
    expect(one.details).toMatchObject({
      computeThreads: 1,
      trainPositions: expected.train.length,
      groups: expected.train.length, // gridsize 1: one group per training position (nGroups 64 > M)
      validation: {
        source: "fold",
        foldIndex: 1,
        positions: expected.validation.length,
        groups: expected.validation.length,
        file: "folds.json",
      },
    });
    expect(Number.isFinite(one.details.lastMetrics.val_loss)).toBe(true);

    // Another fold validates elsewhere: another loss; without folds the test file validates.
    const two = await trainFold(2, "fold-2");
    expect(two.details.lastMetrics.val_loss).not.toBe(one.details.lastMetrics.val_loss);
    const plain = await trainFold(null, "no-folds");
    expect(plain.details).toMatchObject({
      trainPositions: M,
      validation: { source: "testDataFile", file: testFile },
    });
    expect(plain.details.lastMetrics.val_loss).not.toBe(one.details.lastMetrics.val_loss);
  }, 120_000);
});
