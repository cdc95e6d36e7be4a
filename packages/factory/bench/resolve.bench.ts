// Payloads per second for a training payload built from five non-empty layers (one per level above
// the default, plus a second config file), with full audit and legacy dictionary.
// Target (architecture.md §8): at least 20,000 per second.
import { bench, describe } from "vitest";
import { type Layer, parseConfigText, resolvePayload } from "../src/index.ts";

const file = await parseConfigText(
  [
    "model:",
    "  gridsize: 2",
    "  nFiltersScale: 2",
    "training:",
    "  batchSize: 16",
    "  nepochs: 30",
    "  nllWeight: 0.9",
    "execution:",
    "  learningRate: 0.001",
    "  scheduler: WarmupCosine",
    "  lrWarmupEpochs: 3",
    "",
  ].join("\n"),
  "exp.yaml",
);
const env: Layer = {
  level: "config",
  entries: [
    { path: "execution.seed", value: 7, origin: { kind: "env", variable: "TRAINKIT_EXECUTION_SEED" } },
    {
      path: "training.neighborCount",
      value: 6,
      origin: { kind: "env", variable: "TRAINKIT_TRAINING_NEIGHBOR_COUNT" },
    },
  ],
};
const inferred: Layer = {
  level: "inferred",
  entries: [
    { path: "model.N", value: 64, origin: { kind: "inferred", from: "train.npz:probeGuess.shape" } },
    { path: "training.nphotons", value: 1e6, origin: { kind: "inferred", from: "train.npz:_metadata" } },
    { path: "execution.accelerator", value: "cpu", origin: { kind: "inferred", from: "auto: no GPU found" } },
  ],
};
const execution: Layer = {
  level: "execution",
  entries: [
    { path: "execution.learningRate", value: 3e-4, origin: { kind: "cli", token: "--learning-rate 3e-4" } },
    { path: "execution.numWorkers", value: 2, origin: { kind: "cli", token: "--num-workers 2" } },
    { path: "execution.deterministic", value: false, origin: { kind: "cli", token: "--no-deterministic" } },
  ],
};
const override: Layer = {
  level: "override",
  entries: [
    {
      path: "training.trainDataFile",
      value: "train.npz",
      origin: { kind: "cli", token: "--train-data-file train.npz" },
    },
    { path: "training.nGroups", value: 512, origin: { kind: "cli", token: "--n-groups 512" } },
    { path: "training.batchSize", value: 32, origin: { kind: "cli", token: "--batch-size 32" } },
    { path: "training.outputDir", value: "runs/a", origin: { kind: "cli", token: "--output-dir runs/a" } },
  ],
};
const layers = [file, env, inferred, execution, override];

describe("resolvePayload", () => {
  bench("training payload from five layers (audit + legacy)", () => {
    const payload = resolvePayload("training", layers);
    if (payload.audit.length === 0 || payload.legacy.batch_size !== 32) throw new Error("wrong payload");
  });
});
