import assert from "node:assert/strict";
import { type Layer, parseConfigText, resolvePayload } from "@trainkit/factory";

// Level 3 (config): a YAML file. parseConfigText keeps the line and column of every value.
const file = await parseConfigText(
  ["training:", "  batchSize: 16", "  nepochs: 20", "execution:", "  learningRate: 0.01", ""].join("\n"),
  "exp.yaml",
);
// Level 2 (execution) and level 1 (override): what the user typed.
const typed: Layer[] = [
  {
    level: "execution",
    entries: [
      { path: "execution.learningRate", value: 3e-4, origin: { kind: "cli", token: "--learning-rate 3e-4" } },
    ],
  },
  {
    level: "override",
    entries: [
      {
        path: "training.trainDataFile",
        value: "train.npz",
        origin: { kind: "cli", token: "--train-data-file train.npz" },
      },
      { path: "training.nGroups", value: 512, origin: { kind: "cli", token: "--n-groups 512" } },
      { path: "training.batchSize", value: 32, origin: { kind: "cli", token: "--batch-size 32" } },
    ],
  },
];
// Level 4 (inferred): what the data says.
const inferred: Layer = {
  level: "inferred",
  entries: [{ path: "model.N", value: 64, origin: { kind: "inferred", from: "train.npz:probeGuess.shape" } }],
};

const payload = resolvePayload("training", [file, ...typed, inferred]);

assert.equal(payload.config.training.batchSize, 32); // the flag beats the file
assert.equal(payload.config.training.nepochs, 20); // the file beats the default (50)
assert.equal(payload.config.execution.learningRate, 3e-4);
assert.equal(payload.config.model.N, 64);
assert.deepEqual(
  payload.audit.find((entry) => entry.path === "training.batchSize"),
  {
    path: "training.batchSize",
    value: 32,
    level: "override",
    origin: { kind: "cli", token: "--batch-size 32" },
    shadowed: [
      { level: "config", origin: { kind: "file", file: "exp.yaml", line: 2, column: 14 }, value: 16 },
      { level: "default", origin: { kind: "default" }, value: 16 },
    ],
  },
);
assert.deepEqual(payload.overridesApplied, {
  N: 64,
  train_data_file: "train.npz",
  batch_size: 32,
  nepochs: 20,
  n_groups: 512,
  learning_rate: 3e-4,
});
