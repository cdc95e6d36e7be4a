import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isConfigError } from "@trainkit/config-meta";
import { saveNpz } from "@trainkit/data";
import { MODEL_DEFAULTS } from "@trainkit/training-config";
import { describe, expect, it } from "vitest";
import {
  createInferencePayload,
  createTrainingPayload,
  isFactoryError,
  loadConfigFile,
} from "../src/index.ts";
import { CPU_PIPE, tempDir, writeBundle, writeDataset } from "./helpers.ts";

const dir = tempDir();
const train = await writeDataset(join(dir, "train.npz"), { N: 64, nphotons: 1e6 });
const plain = await writeDataset(join(dir, "plain.npz"), { N: 128 });

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a failure");
}

describe("createTrainingPayload", () => {
  it("infers N from the probe and nphotons from the metadata, and records where from", async () => {
    const payload = await createTrainingPayload({
      trainDataFile: train,
      outputDir: join(dir, "run"),
      overrides: { training: { nGroups: 64 } },
      environment: CPU_PIPE,
    });
    expect(payload.config.model.N).toBe(64);
    expect(payload.config.training.nphotons).toBe(1e6);
    const byPath = new Map(payload.audit.map((a) => [a.path, a]));
    expect(byPath.get("model.N")?.origin).toEqual({ kind: "inferred", from: `${train}:probeGuess.shape` });
    expect(byPath.get("training.nphotons")).toMatchObject({
      level: "inferred",
      origin: { kind: "inferred", from: `${train}:_metadata.physics_parameters.nphotons` },
      shadowed: [{ level: "default", value: 1e9 }],
    });
    expect(byPath.get("execution.accelerator")).toMatchObject({ value: "cpu", level: "inferred" });
    expect(byPath.get("execution.enableProgressBar")).toMatchObject({ value: false, level: "inferred" });
    expect(byPath.get("training.trainDataFile")?.origin).toEqual({ kind: "code", argument: "trainDataFile" });
    expect(payload.legacy).toMatchObject({
      N: 64,
      nphotons: 1e6,
      n_groups: 64,
      output_prefix: join(dir, "run"),
    });
  });

  it("uses the layer a file source carries instead of reading the file again", async () => {
    const config = join(dir, "read-once.yaml");
    writeFileSync(config, "training:\n  nepochs: 7\n");
    const layer = await loadConfigFile(config);
    rmSync(config);
    const payload = await createTrainingPayload({
      trainDataFile: train,
      overrides: { training: { nGroups: 8 } },
      sources: [{ kind: "file", path: config, layer }],
      environment: CPU_PIPE,
    });
    expect(payload.audit.find((a) => a.path === "training.nepochs")).toMatchObject({
      value: 7,
      level: "config",
      origin: { kind: "file", file: config, line: 2, column: 12 },
    });
    const unread = await createTrainingPayload({
      trainDataFile: train,
      overrides: { training: { nGroups: 8 } },
      sources: [{ kind: "file", path: config }],
      environment: CPU_PIPE,
    }).catch((error: unknown) => error);
    expect(isFactoryError(unread, "SOURCE_NOT_FOUND")).toBe(true);
  });

  it("falls back to the default nphotons when the data has no metadata", async () => {
    const payload = await createTrainingPayload({
      trainDataFile: plain,
      overrides: { training: { nGroups: 8 } },
      environment: CPU_PIPE,
    });
    expect(payload.config.model.N).toBe(128);
    expect(payload.audit.find((a) => a.path === "training.nphotons")).toMatchObject({
      value: 1e9,
      level: "default",
    });
  });

  it("resolves files, env and arguments in precedence order", async () => {
    const yaml = join(dir, "exp.yaml");
    writeFileSync(
      yaml,
      "training:\n  batchSize: 8\n  nepochs: 3\nexecution:\n  learningRate: 0.01\n  seed: 5\n",
    );
    const payload = await createTrainingPayload({
      trainDataFile: train,
      overrides: { training: { nGroups: 16, batchSize: 32 } },
      execution: { learningRate: 0.002 },
      sources: [
        { kind: "env", env: { TRAINKIT_EXECUTION_SEED: "9", TRAINKIT_TRAINING_NEPOCHS: "4" } },
        { kind: "file", path: yaml },
      ],
      environment: CPU_PIPE,
    });
    expect(payload.config.training).toMatchObject({ batchSize: 32, nepochs: 4, nGroups: 16 });
    expect(payload.config.execution).toMatchObject({ learningRate: 0.002, seed: 9 });
    expect(
      payload.audit.find((a) => a.path === "training.nepochs")?.shadowed.map((s) => s.origin.kind),
    ).toEqual(["file", "default"]);
  });

  it("warns when an explicit N contradicts the probe", async () => {
    const payload = await createTrainingPayload({
      trainDataFile: train,
      overrides: { model: { N: 128 }, training: { nGroups: 8 } },
      environment: CPU_PIPE,
    });
    expect(payload.config.model.N).toBe(128);
    expect(payload.warnings.map((w) => w.code)).toContain("INFERRED_CONFLICT");
  });

  it("warns that a validation cadence has no effect without validation data", async () => {
    const payload = (testDataFile?: string) =>
      createTrainingPayload({
        trainDataFile: train,
        overrides: { training: { nGroups: 8, ...(testDataFile ? { testDataFile } : {}) } },
        execution: { checkValEveryNEpoch: 5 },
        environment: CPU_PIPE,
      });
    const unused = (p: Awaited<ReturnType<typeof payload>>) =>
      p.warnings.filter((w) => w.path === "execution.checkValEveryNEpoch").map((w) => w.message);
    expect(unused(await payload())).toEqual([
      "checkValEveryNEpoch (5) has no effect: the run has no validation data (set training.testDataFile or training.foldCount).",
    ]);
    expect(unused(await payload(train))).toEqual([]);
  });

  it("refuses a missing data file, naming where the path came from", async () => {
    const error = await failure(
      createTrainingPayload({
        trainDataFile: join(dir, "missing.npz"),
        overrides: { training: { nGroups: 8 } },
        environment: CPU_PIPE,
      }),
    );
    expect(isFactoryError(error, "DATA_NOT_FOUND")).toBe(true);
    expect(error.message).toBe(
      `training.trainDataFile (the trainDataFile argument): ${join(dir, "missing.npz")} does not exist.`,
    );
  });

  it("refuses data that breaks the contract, and data that is not an npz", async () => {
    const square = await writeDataset(join(dir, "nonsquare.npz"), { probeShape: [64, 32] });
    const error = await failure(
      createTrainingPayload({
        trainDataFile: square,
        overrides: { training: { nGroups: 8 } },
        environment: CPU_PIPE,
      }),
    );
    expect(isFactoryError(error, "DATA_INVALID")).toBe(true);
    expect(error.message).toMatch(/probeGuess/);
    const text = join(dir, "text.npz");
    writeFileSync(text, "not a zip");
    const notZip = await failure(
      createTrainingPayload({
        trainDataFile: text,
        overrides: { training: { nGroups: 8 } },
        environment: CPU_PIPE,
      }),
    );
    expect(isFactoryError(notZip, "DATA_INVALID")).toBe(true);
    expect(notZip.message).toContain("zip");
  });

  it("accepts the legacy diff3d key with a warning", async () => {
    const legacy = await writeDataset(join(dir, "legacy.npz"), { diff3d: true });
    const payload = await createTrainingPayload({
      trainDataFile: legacy,
      overrides: { training: { nGroups: 8 } },
      environment: CPU_PIPE,
    });
    expect(payload.warnings.some((w) => w.code === "DATA_CONTRACT" && w.message.includes("diff3d"))).toBe(
      true,
    );
  });

  it("requires nGroups and a training file", async () => {
    const error = await failure(createTrainingPayload({ environment: CPU_PIPE }));
    expect(isConfigError(error, "MISSING_VALUE")).toBe(true);
    expect((error as Error).message).toContain("training.trainDataFile: is required");
    expect((error as Error).message).toContain("training.nGroups: is required");
  });

  it("refuses a probe size that is not a model size", async () => {
    const small = await writeDataset(join(dir, "small.npz"), { N: 32 });
    const error = await failure(
      createTrainingPayload({
        trainDataFile: small,
        overrides: { training: { nGroups: 8 } },
        environment: CPU_PIPE,
      }),
    );
    expect(error.message).toBe(
      `model.N: must be one of 64, 128, 256, got 32 (from inferred from ${small}:probeGuess.shape).`,
    );
  });
});

describe("createInferencePayload", () => {
  const runDir = tempDir("trainkit-run-");
  const model = { ...MODEL_DEFAULTS, N: 64, gridsize: 2 };

  it("takes the model section from the bundle", async () => {
    await writeBundle(runDir, model);
    const payload = await createInferencePayload({
      modelPath: runDir,
      testDataFile: train,
      outputDir: join(dir, "infer"),
      environment: CPU_PIPE,
    });
    expect(payload.config.model).toEqual(model);
    expect(payload.audit.find((a) => a.path === "model.gridsize")).toMatchObject({
      value: 2,
      level: "inferred",
      origin: { kind: "inferred", from: `${join(runDir, "model.zip")}:payload.json model.gridsize` },
    });
    expect(payload.legacy).toMatchObject({
      model_path: runDir,
      gridsize: 2,
      output_prefix: join(dir, "infer"),
    });
  });

  it("accepts an explicit model value equal to the bundle's, and refuses one that differs", async () => {
    await writeBundle(runDir, model);
    await expect(
      createInferencePayload({
        modelPath: runDir,
        testDataFile: train,
        overrides: { model: { gridsize: 2 } },
        environment: CPU_PIPE,
      }),
    ).resolves.toBeDefined();
    const error = await failure(
      createInferencePayload({
        modelPath: runDir,
        testDataFile: train,
        overrides: { model: { gridsize: 1 } },
        environment: CPU_PIPE,
      }),
    );
    expect(isConfigError(error, "CONFLICT")).toBe(true);
    expect(error.message).toBe(
      `model.gridsize: disagrees with the model bundle ${join(runDir, "model.zip")}, which was trained with 2, got 1 (from the overrides argument). Inference uses the model's own settings: drop the explicit value.`,
    );
  });

  it("refuses test data whose probe size differs from the model's N", async () => {
    await writeBundle(runDir, model);
    const error = await failure(
      createInferencePayload({ modelPath: runDir, testDataFile: plain, environment: CPU_PIPE }),
    );
    expect(isConfigError(error, "CONFLICT")).toBe(true);
    expect(error.message).toContain("has 128x128 patterns");
  });

  it("refuses a missing model, a bundle that is not a zip, and one without a manifest", async () => {
    const missing = await failure(
      createInferencePayload({ modelPath: join(dir, "nope"), testDataFile: train, environment: CPU_PIPE }),
    );
    expect(isFactoryError(missing, "MODEL_NOT_FOUND")).toBe(true);
    const empty = tempDir("trainkit-empty-run-");
    const noBundle = await failure(
      createInferencePayload({ modelPath: empty, testDataFile: train, environment: CPU_PIPE }),
    );
    expect(isFactoryError(noBundle, "MODEL_NOT_FOUND")).toBe(true);
    expect(noBundle.message).toContain("has no model.zip");
    const notZip = join(empty, "model.zip");
    writeFileSync(notZip, "hello");
    const bad = await failure(
      createInferencePayload({ modelPath: notZip, testDataFile: train, environment: CPU_PIPE }),
    );
    expect(isFactoryError(bad, "DATA_INVALID")).toBe(true);
    expect(bad.message).toContain("is not a zip file");
    await saveNpz(notZip, { x: { dtype: "f4", shape: [1], data: new Float32Array(1) } });
    const noManifest = await failure(
      createInferencePayload({ modelPath: notZip, testDataFile: train, environment: CPU_PIPE }),
    );
    expect(noManifest.message).toContain("it has no manifest.json");
  });
});

describe("value aliases", () => {
  it("are applied before every rule: upstream's `Supervised` triggers the same data-contract check", async () => {
    const messages: string[] = [];
    for (const modelType of ["supervised", "Supervised"]) {
      const error = await createTrainingPayload({
        trainDataFile: train,
        overrides: { training: { nGroups: 8 } },
        layers: [
          {
            level: "override",
            entries: [
              {
                path: "model.modelType",
                value: modelType,
                origin: { kind: "cli", token: `--model-type ${modelType}` },
              },
            ],
          },
        ],
        environment: CPU_PIPE,
      }).catch((e: Error) => e);
      expect(isFactoryError(error), String(error)).toBe(true);
      messages.push((error as Error).message);
    }
    expect(messages[0]).toContain("Y");
    expect(messages[1]).toBe(messages[0]);
  });
});
