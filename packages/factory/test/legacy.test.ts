import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isConfigError } from "@trainkit/config-meta";
import { MODEL_DEFAULTS, TRAINING_DEFAULTS } from "@trainkit/training-config";
import { describe, expect, it } from "vitest";
import {
  fromLegacyParams,
  isFactoryError,
  type Layer,
  LegacyParamsStore,
  loadLegacyParamsFile,
  resolvePayload,
  toLegacyParams,
} from "../src/index.ts";

const code = (level: Layer["level"], values: Record<string, unknown>): Layer => ({
  level,
  entries: Object.entries(values).map(([path, value]) => ({
    path,
    value,
    origin: { kind: "code", argument: "test" },
  })),
});

// The upstream worked example: a training config, then an inference config, applied to params.cfg.
const BASELINE_MODEL = {
  "model.N": 128,
  "model.gridsize": 3,
  "model.nFiltersScale": 2,
  "model.modelType": "pinn",
  "model.ampActivation": "swish",
  "model.objectBig": false,
  "model.probeBig": false,
  "model.probeMask": true,
  "model.padObject": false,
  "model.probeScale": 2.0,
  "model.gaussianSmoothingSigma": 0.5,
};
const baselineTraining = () =>
  resolvePayload("training", [
    code("override", {
      ...BASELINE_MODEL,
      "training.trainDataFile": "/canonical/baseline/train_data.npz",
      "training.testDataFile": "/canonical/baseline/test_data.npz",
      "training.batchSize": 32,
      "training.nepochs": 100,
      "training.maeWeight": 0.3,
      "training.nllWeight": 0.7,
      "training.realspaceMaeWeight": 0.05,
      "training.realspaceWeight": 0.1,
      "training.nphotons": 5e8,
      "training.nGroups": 512,
      "training.nSubsample": 1024,
      "training.subsampleSeed": 99,
      "training.neighborCount": 6,
      "training.positionsProvided": false,
      "training.probeTrainable": true,
      "training.intensityScaleTrainable": true,
      "training.outputDir": "/canonical/baseline/training_outputs",
      "training.sequentialSampling": true,
    }),
  ]);
const baselineInference = () =>
  resolvePayload("inference", [
    code("override", {
      ...BASELINE_MODEL,
      "inference.modelPath": "/canonical/baseline/model_directory",
      "inference.testDataFile": "/canonical/baseline/inference_data.npz",
      "inference.neighborCount": 6,
      "inference.nSubsample": 1024,
      "inference.subsampleSeed": 99,
      "inference.debug": true,
      "inference.outputDir": "/canonical/baseline/inference_outputs",
    }),
  ]);

// Fields that upstream main has and the fixture predates (it was produced by an older dataclass).
const NEWER_THAN_FIXTURE = [
  "architecture",
  "backend",
  "enable_oversampling",
  "fno_blocks",
  "fno_cnn_blocks",
  "fno_input_transform",
  "fno_modes",
  "fno_width",
  "generator_output_mode",
  "learned_input_channels",
  "probe_mask_sigma",
  "torch_loss_mode",
  "torch_mae_pred_l2_match_target",
];

describe("toLegacyParams", () => {
  it("reproduces the upstream baseline_params.json key for key", () => {
    const baseline = JSON.parse(
      readFileSync(new URL("fixtures/baseline_params.json", import.meta.url), "utf8"),
    );
    const params = { ...baselineTraining().legacy, ...baselineInference().legacy };
    for (const [key, value] of Object.entries(baseline)) expect([key, params[key]]).toEqual([key, value]);
    const extra = Object.keys(params)
      .filter((k) => !(k in baseline))
      .sort();
    expect(extra).toEqual(NEWER_THAN_FIXTURE);
  });

  it("renames with the upstream KEY_MAPPINGS and never includes execution fields", () => {
    const legacy = baselineTraining().legacy;
    expect(legacy).toMatchObject({
      "object.big": false,
      "probe.big": false,
      "probe.mask": true,
      "probe.trainable": true,
      "intensity_scale.trainable": true,
      "positions.provided": false,
      output_prefix: "/canonical/baseline/training_outputs",
      train_data_file_path: "/canonical/baseline/train_data.npz",
      test_data_file_path: "/canonical/baseline/test_data.npz",
    });
    for (const key of ["learning_rate", "accelerator", "scheduler", "seed", "logger_backend"])
      expect(legacy).not.toHaveProperty(key);
  });

  it("leaves null values out, as upstream's update skips None", () => {
    expect(baselineInference().legacy).not.toHaveProperty("n_groups");
  });
});

describe("fromLegacyParams", () => {
  it("round-trips the bridged fields losslessly", () => {
    const payload = baselineTraining();
    const { layer, warnings } = fromLegacyParams(payload.legacy, { kind: "training", file: "params.json" });
    expect(warnings).toEqual([]);
    const again = resolvePayload("training", [layer]);
    expect({ model: again.config.model, training: again.config.training }).toEqual({
      model: payload.config.model,
      training: payload.config.training,
    });
  });

  it("records the legacy key as the origin of each value", () => {
    const { layer } = fromLegacyParams({ "object.big": false }, { kind: "training", file: "p.json" });
    expect(layer.entries).toEqual([
      {
        path: "model.objectBig",
        value: false,
        origin: { kind: "legacy", file: "p.json", key: "object.big" },
      },
    ]);
  });

  it("reports keys trainkit does not model and keys of the other job, and refuses unknown keys", () => {
    const { warnings } = fromLegacyParams(
      { offset: 4, debug: true, n_images: 5 },
      { kind: "training", file: "p.json" },
    );
    expect(warnings.map((w) => `${w.code} ${w.message}`)).toMatchInlineSnapshot(`
      [
        "IGNORED_SETTING legacy key "offset" = 4 in p.json is not applied: trainkit does not model it.",
        "IGNORED_SETTING legacy key "debug" = true in p.json is not applied: it applies to inference only.",
        "DEPRECATED_NAME legacy key "n_images" in p.json is deprecated; use "n_groups".",
      ]
    `);
    try {
      fromLegacyParams({ batchsize: 3 }, { kind: "training", file: "p.json" });
      throw new Error("expected an error");
    } catch (error) {
      expect(isConfigError(error, "UNKNOWN_KEY")).toBe(true);
      expect((error as Error).message).toBe(
        'batchsize: is not a legacy params.cfg key, got 3 (from legacy params p.json). Did you mean "batch_size"?',
      );
    }
  });

  it("reads the 13 optimisation keys of a params.cfg upstream main wrote into the execution section", async () => {
    // What upstream's update_legacy_dict writes for a TrainingConfig (gradient_clip_val None is skipped).
    const upstream = {
      ...toLegacyParams("training", {
        model: MODEL_DEFAULTS,
        training: { ...TRAINING_DEFAULTS, trainDataFile: "t.npz" },
      }),
      backend: "pytorch",
      gradient_clip_algorithm: "value",
      optimizer: "sgd",
      momentum: 0.8,
      weight_decay: 0.01,
      adam_beta1: 0.9,
      adam_beta2: 0.999,
      scheduler: "ReduceLROnPlateau",
      lr_warmup_epochs: 0,
      lr_min_ratio: 0.1,
      plateau_factor: 0.25,
      plateau_patience: 3,
      plateau_min_lr: 5e-5,
      plateau_threshold: 0.0,
    };
    const { layer, warnings } = fromLegacyParams(upstream, { kind: "training", file: "params.json" });
    expect(warnings).toEqual([]);
    const byPath = new Map(layer.entries.map((e) => [e.path, e]));
    expect(byPath.get("execution.optimizer")).toEqual({
      path: "execution.optimizer",
      value: "sgd",
      origin: { kind: "legacy", file: "params.json", key: "optimizer" },
    });
    const execution = layer.entries.filter((e) => e.path.startsWith("execution."));
    expect(execution.map((e) => e.path)).toHaveLength(13);
    const payload = resolvePayload("training", [layer]);
    expect(payload.config.execution).toMatchObject({
      optimizer: "sgd",
      momentum: 0.8,
      gradientClipAlgorithm: "value",
      scheduler: "ReduceLROnPlateau",
      plateauFactor: 0.25,
      plateauPatience: 3,
    });
    expect(payload.audit.find((a) => a.path === "execution.plateauFactor")?.level).toBe("config");
    // Our own dictionary still leaves them out.
    expect(Object.keys(payload.legacy)).not.toContain("optimizer");
    // For inference they are reported, not applied.
    const infer = fromLegacyParams({ optimizer: "sgd" }, { kind: "inference", file: "params.json" });
    expect(infer.warnings.map((w) => w.message)).toEqual([
      'legacy key "optimizer" = "sgd" in params.json is not applied: it applies to training only.',
    ]);
  });

  it("loads a params file and refuses one that is not a JSON object", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trainkit-legacy-"));
    writeFileSync(join(dir, "ok.json"), JSON.stringify({ N: 128, nepochs: 2 }));
    writeFileSync(join(dir, "bad.json"), "{ N: 128");
    expect((await loadLegacyParamsFile(join(dir, "ok.json"), "training")).layer.entries).toHaveLength(2);
    await expect(loadLegacyParamsFile(join(dir, "bad.json"), "training")).rejects.toSatisfy((e) =>
      isFactoryError(e, "SOURCE_MALFORMED"),
    );
    await expect(loadLegacyParamsFile(join(dir, "missing.json"), "training")).rejects.toSatisfy((e) =>
      isFactoryError(e, "SOURCE_NOT_FOUND"),
    );
  });
});

describe("LegacyParamsStore", () => {
  it("bridges exactly once per scope", () => {
    const store = new LegacyParamsStore();
    store.bridge({ N: 64 });
    expect(store.get("N")).toBe(64);
    expect(() => store.bridge({ N: 128 })).toThrow(
      expect.objectContaining({ code: "LEGACY_ALREADY_BRIDGED" }),
    );
  });

  it("removes stale keys of a previous job and restores the outer scope afterwards", async () => {
    const store = new LegacyParamsStore();
    store.bridge(toLegacyParams("training", baselineTraining().config));
    expect(store.has("train_data_file_path")).toBe(true);
    const inner = await store.withScope(() => {
      store.bridge(baselineInference().legacy);
      return store.snapshot();
    });
    expect(inner).not.toHaveProperty("train_data_file_path");
    expect(inner).toMatchObject({ model_path: "/canonical/baseline/model_directory" });
    expect(store.get("train_data_file_path")).toBe("/canonical/baseline/train_data.npz");
    expect(store.bridged).toBe(true);
  });

  it("restores the outer scope when the job fails", async () => {
    const store = new LegacyParamsStore();
    store.bridge({ N: 64 });
    await expect(
      store.withScope(() => {
        store.bridge({ N: 256 });
        throw new Error("job failed");
      }),
    ).rejects.toThrow("job failed");
    expect(store.get("N")).toBe(64);
  });

  it("names the closest key when a key is missing", () => {
    const store = new LegacyParamsStore();
    store.bridge({ nepochs: 3 });
    expect(() => store.get("n_epochs")).toThrow('params.cfg has no key "n_epochs". Did you mean "nepochs"?');
  });
});
