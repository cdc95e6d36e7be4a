import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isConfigError } from "@trainkit/config-meta";
import { describe, expect, it } from "vitest";
import {
  envVariableOf,
  isFactoryError,
  type Layer,
  loadConfigFile,
  loadEnvironment,
  loadRunDirectory,
  orderSources,
  parseConfigText,
  resolvePayload,
} from "../src/index.ts";

const dir = mkdtempSync(join(tmpdir(), "trainkit-sources-"));
const write = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

describe("loadConfigFile", () => {
  it("keeps the line and column of every value in YAML", async () => {
    const path = write(
      "exp.yaml",
      "# experiment\ntraining:\n  batchSize: 32\n  nphotons: 1e9\nexecution:\n  lrMilestones: [10, 20]\n",
    );
    const layer = await loadConfigFile(path);
    expect(layer.level).toBe("config");
    expect(layer.entries).toEqual([
      { path: "training.batchSize", value: 32, origin: { kind: "file", file: path, line: 3, column: 14 } },
      { path: "training.nphotons", value: 1e9, origin: { kind: "file", file: path, line: 4, column: 13 } },
      {
        path: "execution.lrMilestones",
        value: [10, 20],
        origin: { kind: "file", file: path, line: 6, column: 17 },
      },
    ]);
  });

  it("reads JSON with positions too", async () => {
    const layer = await parseConfigText('{\n  "model": { "N": 128 }\n}\n', "exp.json");
    expect(layer.entries).toEqual([
      { path: "model.N", value: 128, origin: { kind: "file", file: "exp.json", line: 2, column: 19 } },
    ]);
  });

  it("reads 1e9 as a number (YAML 1.2), unlike PyYAML", async () => {
    expect((await parseConfigText("training:\n  nphotons: 1e9\n", "x.yaml")).entries[0]?.value).toBe(1e9);
  });

  it("reports malformed YAML with its line and column", async () => {
    const path = write("bad.yaml", "training:\n  batchSize: 32\n nepochs: 3\n");
    const error = await rejection(loadConfigFile(path));
    expect(isFactoryError(error, "SOURCE_MALFORMED")).toBe(true);
    expect(error.message).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3:\\d+: `));
  });

  it("refuses duplicate keys", async () => {
    await expect(parseConfigText("training:\n  batchSize: 8\n  batchSize: 16\n", "dup.yaml")).rejects.toThrow(
      /dup\.yaml:3:\d+: .*unique/i,
    );
  });

  it("refuses a file that is not a mapping", async () => {
    await expect(parseConfigText("- a\n- b\n", "list.yaml")).rejects.toThrow(
      "list.yaml:1:1: a config file must be a mapping",
    );
  });

  it("says a missing file does not exist", async () => {
    const error = await rejection(loadConfigFile(join(dir, "nope.yaml")));
    expect(isFactoryError(error, "SOURCE_NOT_FOUND")).toBe(true);
    expect(error.message).toContain("nope.yaml does not exist");
  });

  it("returns an empty layer for an empty file", async () => {
    expect((await loadConfigFile(write("empty.yaml", ""))).entries).toEqual([]);
  });
});

describe("loadEnvironment", () => {
  it("reads TRAINKIT_<SECTION>_<FIELD> variables with typed values", () => {
    const layer = loadEnvironment({
      TRAINKIT_TRAINING_BATCH_SIZE: "32",
      TRAINKIT_EXECUTION_LEARNING_RATE: "1e-4",
      TRAINKIT_EXECUTION_PIN_MEMORY: "yes",
      TRAINKIT_EXECUTION_PREFETCH_FACTOR: "null",
      TRAINKIT_EXECUTION_LR_MILESTONES: "10,20",
      TRAINKIT_MODEL_N: "128",
      TRAINKIT_PAYLOAD: "/runs/a/payload.json",
      HOME: "/root",
    });
    expect(Object.fromEntries(layer.entries.map((e) => [e.path, e.value]))).toEqual({
      "training.batchSize": 32,
      "execution.learningRate": 1e-4,
      "execution.pinMemory": true,
      "execution.prefetchFactor": null,
      "execution.lrMilestones": [10, 20],
      "model.N": 128,
    });
    expect(layer.entries[0]?.origin).toEqual({ kind: "env", variable: "TRAINKIT_EXECUTION_LEARNING_RATE" });
  });

  it("refuses wrong types and unknown variables, naming the variable", () => {
    try {
      loadEnvironment({
        TRAINKIT_TRAINING_BATCH_SIZE: "abc",
        TRAINKIT_EXECUTION_PIN_MEMORY: "flase",
        TRAINKIT_EXECUTION_LEARNING_RATE: "NaN",
        TRAINKIT_TRAINING_BATCHSIZE: "3",
      });
      throw new Error("expected an error");
    } catch (error) {
      expect(isConfigError(error)).toBe(true);
      // The origin stays data (rendered only in the message).
      expect(isConfigError(error) && error.issues[0]?.origin).toEqual({
        kind: "env",
        variable: "TRAINKIT_EXECUTION_LEARNING_RATE",
      });
      expect((error as Error).message).toMatchInlineSnapshot(`
        "4 problems:
          - execution.learningRate: must be a finite number, got "NaN" (from environment variable TRAINKIT_EXECUTION_LEARNING_RATE).
          - execution.pinMemory: must be true or false (or 1/0, yes/no), got "flase" (from environment variable TRAINKIT_EXECUTION_PIN_MEMORY).
          - TRAINKIT_TRAINING_BATCHSIZE: is not a trainkit setting. Did you mean TRAINKIT_TRAINING_BATCH_SIZE?
          - training.batchSize: must be an integer, got "abc" (from environment variable TRAINKIT_TRAINING_BATCH_SIZE)."
      `);
    }
  });

  it("never shows a secret value", () => {
    const variable = envVariableOf("execution", "mlflowTrackingUri");
    expect(variable).toBe("TRAINKIT_EXECUTION_MLFLOW_TRACKING_URI");
    const secret = "https://user:s3cr3t@mlflow.example";
    const layer = loadEnvironment({ [variable]: secret });
    // The value reaches the config; the origin names the variable only.
    expect(layer.entries).toEqual([
      { path: "execution.mlflowTrackingUri", value: secret, origin: { kind: "env", variable } },
    ]);
    const base: Layer = {
      level: "override",
      entries: [
        {
          path: "training.trainDataFile",
          value: "train.npz",
          origin: { kind: "code", argument: "trainDataFile" },
        },
        { path: "training.nGroups", value: 64, origin: { kind: "code", argument: "nGroups" } },
      ],
    };
    // Resolved with logger csv, the secret draws an unused-setting warning: the audit, the
    // warnings and overridesApplied name the variable and show "***", never the value.
    const payload = resolvePayload("training", [base, layer]);
    expect(payload.config.execution.mlflowTrackingUri).toBe(secret);
    const shown = JSON.stringify([payload.audit, payload.warnings, payload.overridesApplied]);
    expect(shown).toContain(variable);
    expect(shown).toContain('"***"');
    expect(shown).not.toContain("s3cr3t");
    // Another variable's error lists that variable, never the secret beside it.
    let message = "";
    try {
      loadEnvironment({ [variable]: secret, TRAINKIT_TRAINING_BATCH_SIZE: "abc" });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("TRAINKIT_TRAINING_BATCH_SIZE");
    expect(message).not.toContain("s3cr3t");
  });
});

describe("loadRunDirectory", () => {
  it("reads the config of a previous run's payload.json", async () => {
    const run = mkdtempSync(join(dir, "run-"));
    writeFileSync(
      join(run, "payload.json"),
      JSON.stringify({
        kind: "training",
        config: { training: { nepochs: 9 }, execution: { mlflowTrackingUri: "***" } },
      }),
    );
    const layer = await loadRunDirectory(run);
    expect(layer.entries).toEqual([
      { path: "training.nepochs", value: 9, origin: { kind: "run", dir: run } },
    ]);
  });

  it("refuses a directory that is not a run", async () => {
    const error = await rejection(loadRunDirectory(dir));
    expect(isFactoryError(error, "SOURCE_NOT_FOUND")).toBe(true);
  });
});

describe("orderSources", () => {
  it("puts a previous run lowest, then legacy params, files in order, and env highest", () => {
    const order = orderSources([
      { kind: "env" },
      { kind: "file", path: "b.yaml" },
      { kind: "run", dir: "r" },
      { kind: "file", path: "c.yaml" },
      { kind: "legacy", path: "p.json" },
    ]);
    expect(order.map((s) => (s.kind === "file" ? s.path : s.kind))).toEqual([
      "run",
      "legacy",
      "b.yaml",
      "c.yaml",
      "env",
    ]);
  });
});
