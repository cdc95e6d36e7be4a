import { listFields, sectionJsonSchema } from "@trainkit/config-meta";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type * as z from "zod";
import { sectionInput } from "../../../tests/arbitraries.ts";
import {
  InferenceConfigSchema,
  MODEL_DEFAULTS,
  ModelConfigSchema,
  parseInferenceConfig,
  parseModelConfig,
  parseTrainingConfig,
  safeParseInferenceConfig,
  safeParseModelConfig,
  safeParseTrainingConfig,
  TRAINING_DEFAULTS,
  TrainingConfigSchema,
} from "../src/index.ts";

// Upstream canonical dataclass defaults (reference 1.1-1.3), by upstream field name.
const UPSTREAM_MODEL: Record<string, unknown> = {
  N: 64,
  gridsize: 1,
  n_filters_scale: 2,
  model_type: "pinn",
  architecture: "cnn",
  fno_modes: 12,
  fno_width: 32,
  fno_blocks: 4,
  fno_cnn_blocks: 2,
  learned_input_channels: 1,
  max_hidden_channels: null,
  resnet_width: null,
  fno_input_transform: "none",
  generator_output_mode: "real_imag",
  amp_activation: "sigmoid",
  object_big: true,
  probe_big: true,
  probe_mask: false,
  probe_mask_sigma: 1.0,
  probe_mask_diameter: null,
  pad_object: true,
  probe_scale: 4.0,
  gaussian_smoothing_sigma: 0.0,
};
const UPSTREAM_TRAINING: Record<string, unknown> = {
  train_data_file: null,
  test_data_file: null,
  batch_size: 16,
  nepochs: 50,
  mae_weight: 0,
  nll_weight: 1,
  realspace_mae_weight: 0,
  realspace_weight: 0,
  nphotons: 1e9,
  n_groups: 512, // None, then 512 after __post_init__
  n_subsample: null,
  subsample_seed: null,
  neighbor_count: 4,
  enable_oversampling: false,
  neighbor_pool_size: null,
  positions_provided: true,
  probe_trainable: false,
  intensity_scale_trainable: true,
  output_dir: "training_outputs",
  sequential_sampling: false,
  backend: "tensorflow",
  torch_loss_mode: "poisson",
  torch_mae_pred_l2_match_target: false,
};
// Training fields trainkit adds (upstream has none): never bridged to params.cfg.
const TRAINKIT_TRAINING: Record<string, unknown> = { fold_count: null, fold_index: null };
// Upstream TrainingConfig fields that live in the execution config instead (one place for optimisation).
const MOVED_TO_EXECUTION = [
  "gradient_clip_val",
  "gradient_clip_algorithm",
  "optimizer",
  "momentum",
  "weight_decay",
  "adam_beta1",
  "adam_beta2",
  "scheduler",
  "lr_warmup_epochs",
  "lr_min_ratio",
  "plateau_factor",
  "plateau_patience",
  "plateau_min_lr",
  "plateau_threshold",
];
const UPSTREAM_INFERENCE: Record<string, unknown> = {
  model_path: undefined, // required
  test_data_file: undefined, // required
  n_groups: null,
  n_subsample: null,
  subsample_seed: null,
  neighbor_count: 4,
  enable_oversampling: false,
  neighbor_pool_size: null,
  debug: false,
  output_dir: "inference_outputs",
  backend: "tensorflow",
};

function defaultsCases(schema: z.ZodObject) {
  return listFields(schema).map((f) => [f.key, f.meta.upstream, f.hasDefault, f.defaultValue] as const);
}

describe.each([
  ["ModelConfigSchema", ModelConfigSchema, UPSTREAM_MODEL],
  ["TrainingConfigSchema", TrainingConfigSchema, UPSTREAM_TRAINING],
  ["InferenceConfigSchema", InferenceConfigSchema, UPSTREAM_INFERENCE],
] as const)("%s", (_name, schema, upstream) => {
  const known: Record<string, unknown> = {
    ...upstream,
    ...(schema === TrainingConfigSchema ? TRAINKIT_TRAINING : {}),
  };
  it.each(defaultsCases(schema))("defaults %s to upstream %s", (_key, name, hasDefault, value) => {
    expect(Object.keys(known)).toContain(name);
    expect(hasDefault).toBe(known[name] !== undefined);
    expect(value).toEqual(known[name]);
  });

  it("has a field for every upstream field", () => {
    const names = new Set(listFields(schema).map((f) => f.meta.upstream));
    const missing = Object.keys(upstream).filter((n) => !names.has(n));
    expect(missing).toEqual([]);
  });
});

describe("TrainingConfigSchema", () => {
  it("never bridges the fields trainkit adds to params.cfg", () => {
    const unbridged = [...listFields(ModelConfigSchema), ...listFields(TrainingConfigSchema)]
      .filter((f) => f.legacyKey === null)
      .map((f) => f.meta.upstream);
    expect(unbridged).toEqual(Object.keys(TRAINKIT_TRAINING));
  });

  it("moves the upstream optimiser fields to the execution config", () => {
    const names = new Set(listFields(TrainingConfigSchema).map((f) => f.meta.upstream));
    expect(MOVED_TO_EXECUTION.filter((n) => names.has(n))).toEqual([]);
  });

  it("uses the upstream KEY_MAPPINGS for legacy keys", () => {
    const legacy = Object.fromEntries(
      [...listFields(ModelConfigSchema), ...listFields(TrainingConfigSchema)]
        .filter((f) => f.legacyKey !== f.meta.upstream && f.legacyKey !== null)
        .map((f) => [f.meta.upstream, f.legacyKey]),
    );
    expect(legacy).toEqual({
      object_big: "object.big",
      probe_big: "probe.big",
      probe_mask: "probe.mask",
      probe_trainable: "probe.trainable",
      intensity_scale_trainable: "intensity_scale.trainable",
      positions_provided: "positions.provided",
      output_dir: "output_prefix",
      train_data_file: "train_data_file_path",
      test_data_file: "test_data_file_path",
    });
  });
});

describe.each([
  ["model", ModelConfigSchema, "model-config"],
  ["training", TrainingConfigSchema, "training-config"],
  ["inference", InferenceConfigSchema, "inference-config"],
] as const)("the %s JSON Schema", (section, schema, file) => {
  it("matches the committed file", async () => {
    const json = `${JSON.stringify(sectionJsonSchema(schema, `trainkit ${section} config`), null, 2)}\n`;
    await expect(json).toMatchFileSnapshot(`../schema/${file}.schema.json`);
  });
});

const failMessage = (result: { success: boolean; error?: Error }): string => {
  if (result.success || !result.error) throw new Error("expected a failure");
  return result.error.message;
};

describe("parseModelConfig", () => {
  it("returns the upstream defaults for an empty input", () => {
    expect(parseModelConfig({})).toEqual(MODEL_DEFAULTS);
  });

  const RULES: readonly [string, Record<string, unknown>, Record<string, unknown>][] = [
    ["N is 64, 128 or 256", { N: 100 }, { N: 128 }],
    ["gridsize > 0", { gridsize: 0 }, { gridsize: 2 }],
    ["nFiltersScale > 0", { nFiltersScale: 0 }, { nFiltersScale: 1 }],
    ["probeScale > 0", { probeScale: 0 }, { probeScale: 1 }],
    ["gaussianSmoothingSigma >= 0", { gaussianSmoothingSigma: -0.1 }, { gaussianSmoothingSigma: 0.5 }],
    ["architecture is known", { architecture: "unet" }, { architecture: "fno" }],
    ["modelType is known", { modelType: "gan" }, { modelType: "supervised" }],
    ["ampActivation is known", { ampActivation: "tanh" }, { ampActivation: "relu" }],
    ["probeMaskDiameter fits N", { probeMaskDiameter: 65 }, { probeMaskDiameter: 32 }],
    ["booleans are booleans", { objectBig: "False" }, { objectBig: false }],
  ];
  it.each(RULES)("enforces: %s", (_rule, bad, good) => {
    expect(safeParseModelConfig(bad).success).toBe(false);
    expect(safeParseModelConfig(good)).toMatchObject({ success: true, warnings: [] });
  });

  it("accepts both upstream spellings of modelType and activation", () => {
    expect(parseModelConfig({ modelType: "Unsupervised", ampActivation: "silu" })).toMatchObject({
      modelType: "pinn",
      ampActivation: "swish",
    });
    expect(parseModelConfig({ modelType: "Supervised" }).modelType).toBe("supervised");
  });

  it("names the allowed probe sizes", () => {
    expect(failMessage(safeParseModelConfig({ N: 100 }))).toMatchInlineSnapshot(
      `"model.N: must be one of 64, 128, 256, got 100."`,
    );
  });
});

describe("parseTrainingConfig", () => {
  it("returns the upstream defaults for an empty input", () => {
    expect(parseTrainingConfig({})).toEqual(TRAINING_DEFAULTS);
  });

  const RULES: readonly [string, Record<string, unknown>, Record<string, unknown>][] = [
    ["batchSize is a power of two", { batchSize: 12 }, { batchSize: 32 }],
    ["batchSize > 0", { batchSize: 0 }, { batchSize: 1 }],
    ["nepochs > 0", { nepochs: 0 }, { nepochs: 1 }],
    ["maeWeight <= 1", { maeWeight: 1.5 }, { maeWeight: 1 }],
    ["maeWeight >= 0", { maeWeight: -0.5 }, { maeWeight: 0.3 }],
    ["nllWeight in [0, 1]", { nllWeight: 2 }, { nllWeight: 0.7 }],
    ["nphotons > 0", { nphotons: 0 }, { nphotons: 1e5 }],
    ["nGroups > 0", { nGroups: -4 }, { nGroups: 1 }],
    ["neighborCount > 0", { neighborCount: 0 }, { neighborCount: 7 }],
    [
      "realspaceMaeWeight needs realspaceWeight",
      { realspaceMaeWeight: 0.1 },
      { realspaceMaeWeight: 0.1, realspaceWeight: 1 },
    ],
    ["some loss has weight", { nllWeight: 0 }, { nllWeight: 0, maeWeight: 1 }],
    ["neighborPoolSize >= neighborCount", { neighborPoolSize: 2 }, { neighborPoolSize: 8 }],
    ["paths are not empty", { trainDataFile: "" }, { trainDataFile: "train.npz" }],
    ["torchLossMode is known", { torchLossMode: "l2" }, { torchLossMode: "mae" }],
    ["nGroups and nImages are not both set", { nGroups: 5, nImages: 6 }, { nGroups: 5 }],
    ["foldCount >= 2", { foldCount: 1, foldIndex: 0 }, { foldCount: 2, foldIndex: 1 }],
    ["foldIndex >= 0", { foldCount: 3, foldIndex: -1 }, { foldCount: 3, foldIndex: 0 }],
    ["foldIndex < foldCount", { foldCount: 3, foldIndex: 3 }, { foldCount: 3, foldIndex: 2 }],
    ["foldIndex needs foldCount", { foldIndex: 0 }, { foldIndex: null }],
    ["foldCount needs foldIndex", { foldCount: 5 }, { foldCount: 5, foldIndex: 4 }],
  ];
  it.each(RULES)("enforces: %s", (_rule, bad, good) => {
    expect(safeParseTrainingConfig(bad).success).toBe(false);
    expect(safeParseTrainingConfig(good)).toMatchObject({ success: true, warnings: [] });
  });

  it("says which fold settings are missing or out of range", () => {
    expect(failMessage(safeParseTrainingConfig({ foldCount: 5 }))).toMatchInlineSnapshot(
      `"training.foldCount: needs foldIndex (the fold to validate on), got 5. Set foldIndex to one of 0..4 as well, or set foldCount to null."`,
    );
    expect(failMessage(safeParseTrainingConfig({ foldCount: 3, foldIndex: 3 }))).toMatchInlineSnapshot(
      `"training.foldIndex: must be below foldCount (3), got 3. Folds are numbered 0..2."`,
    );
  });

  it("says a batch size must be a power of two", () => {
    expect(failMessage(safeParseTrainingConfig({ batchSize: 12 }))).toMatchInlineSnapshot(
      `"training.batchSize: must be a power of two (1, 2, 4, 8, ...), got 12."`,
    );
  });

  it("accepts nImages as a deprecated alias of nGroups, with a warning", () => {
    const result = safeParseTrainingConfig({ nImages: 64 });
    expect(result).toMatchObject({ success: true, data: { nGroups: 64 } });
    expect(result.warnings).toMatchInlineSnapshot(`
      [
        {
          "code": "DEPRECATED_NAME",
          "message": ""nImages" is deprecated; use "nGroups" instead.",
          "path": "training.nGroups",
        },
      ]
    `);
  });

  it("refuses nImages and nGroups together", () => {
    expect(failMessage(safeParseTrainingConfig({ nGroups: 5, nImages: 6 }))).toMatchInlineSnapshot(
      `"training.nGroups: is set twice, as "nGroups" and as "nImages". Keep only "nGroups"."`,
    );
  });

  it("accepts epochs and K silently, maxEpochs with a warning", () => {
    const result = safeParseTrainingConfig({ epochs: 3, K: 6 });
    expect(result).toMatchObject({ success: true, data: { nepochs: 3, neighborCount: 6 }, warnings: [] });
    const deprecated = safeParseTrainingConfig({ maxEpochs: 3 });
    expect(deprecated.warnings.map((w) => w.code)).toEqual(["DEPRECATED_NAME"]);
  });

  it("suggests the camelCase name for an upstream snake_case key", () => {
    expect(failMessage(safeParseTrainingConfig({ batch_size: 32 }))).toMatchInlineSnapshot(
      `"training.batch_size: is not a known setting, got 32. Did you mean "batchSize"?"`,
    );
  });
});

describe("parseInferenceConfig", () => {
  it("requires the model and the data", () => {
    expect(failMessage(safeParseInferenceConfig({}))).toMatchInlineSnapshot(`
      "2 problems:
        - inference.modelPath: is required.
        - inference.testDataFile: is required."
    `);
  });

  it("defaults nGroups to every scan position (null)", () => {
    expect(parseInferenceConfig({ modelPath: "runs/a", testDataFile: "t.npz" })).toMatchObject({
      nGroups: null,
      outputDir: "inference_outputs",
    });
  });
});

describe.each([
  ["model", ModelConfigSchema, safeParseModelConfig, {}],
  ["training", TrainingConfigSchema, safeParseTrainingConfig, {}],
  [
    "inference",
    InferenceConfigSchema,
    safeParseInferenceConfig,
    { modelPath: fc.constant("runs/train"), testDataFile: fc.constant("test.npz") },
  ],
] as const)("the %s section", (_name, schema, safeParse, required) => {
  it("parses any schema-valid input to a value that survives JSON and re-parses to itself", () => {
    fc.assert(
      fc.property(sectionInput(schema, required), (input) => {
        const result = safeParse(input);
        fc.pre(result.success);
        if (!result.success) return;
        const copy = JSON.parse(JSON.stringify(result.data));
        expect(copy).toEqual(result.data);
        const again = safeParse(copy);
        expect(again.success && again.data).toEqual(result.data);
      }),
      { numRuns: 200 },
    );
  });
});
