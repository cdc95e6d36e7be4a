import { listFields, sectionJsonSchema } from "@trainkit/config-meta";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sectionInput } from "../../../tests/arbitraries.ts";
import {
  EXECUTION_DEFAULTS,
  ExecutionConfigSchema,
  isConfigError,
  parseExecutionConfig,
  safeParseExecutionConfig,
} from "../src/index.ts";

// Upstream PyTorchExecutionConfig defaults (reference 1.4), by upstream field name, and the
// settings trainkit adds (upstream has no such field).
const UPSTREAM: Record<string, unknown> = {
  accelerator: "auto",
  devices: 1,
  strategy: "auto",
  precision: "32-true",
  deterministic: true,
  num_workers: 0,
  pin_memory: false,
  persistent_workers: false,
  prefetch_factor: null,
  learning_rate: 1e-3,
  scheduler: "Default",
  gradient_clip_val: null,
  gradient_clip_algorithm: "norm",
  accum_steps: 1,
  enable_progress_bar: false,
  enable_checkpointing: true,
  checkpoint_save_top_k: 1,
  checkpoint_monitor_metric: "val_loss",
  checkpoint_mode: "min",
  early_stop_patience: 100,
  logger_backend: "csv",
  inference_batch_size: null,
  middle_trim: 0,
  pad_eval: false,
  // canonical TrainingConfig optimiser fields, moved here (one place for how to optimise)
  optimizer: "adam",
  momentum: 0.9,
  weight_decay: 0,
  adam_beta1: 0.9,
  adam_beta2: 0.999,
  lr_warmup_epochs: 0,
  lr_min_ratio: 0.1,
  plateau_factor: 0.5,
  plateau_patience: 2,
  plateau_min_lr: 5e-5,
  plateau_threshold: 0,
};
const TRAINKIT_ADDITIONS: Record<string, unknown> = {
  seed: 0,
  compute_threads: "auto",
  lr_gamma: 0.95,
  lr_milestones: [],
  lr_milestone_factor: 0.1,
  mlflow_tracking_uri: null,
  // Lightning's Trainer argument, which upstream leaves at its default
  check_val_every_n_epoch: 1,
  // upstream PyTorch InferenceConfig, not the canonical execution config
  patch_weighting: "probe",
};

describe("ExecutionConfigSchema", () => {
  const fields = listFields(ExecutionConfigSchema);

  it.each(fields.map((f) => [f.key, f.meta.upstream, f.defaultValue] as const))(
    "defaults %s to the upstream value of %s",
    (_key, upstream, value) => {
      const expected = upstream in UPSTREAM ? UPSTREAM[upstream] : TRAINKIT_ADDITIONS[upstream];
      expect(upstream in UPSTREAM || upstream in TRAINKIT_ADDITIONS).toBe(true);
      expect(value).toEqual(expected);
    },
  );

  it("has a field for every upstream execution knob", () => {
    const upstreamNames = new Set(fields.map((f) => f.meta.upstream));
    expect(Object.keys(UPSTREAM).filter((name) => !upstreamNames.has(name))).toEqual([]);
  });

  it("never bridges an execution field to params.cfg", () => {
    expect(fields.filter((f) => f.legacyKey !== null).map((f) => f.key)).toEqual([]);
  });

  it("matches the committed JSON Schema", async () => {
    const json = `${JSON.stringify(sectionJsonSchema(ExecutionConfigSchema, "trainkit execution config"), null, 2)}\n`;
    await expect(json).toMatchFileSnapshot("../schema/execution-config.schema.json");
  });
});

describe("parseExecutionConfig", () => {
  it("returns the upstream defaults for an empty input", () => {
    expect(parseExecutionConfig({})).toEqual(EXECUTION_DEFAULTS);
  });

  const message = (input: unknown): string => {
    const result = safeParseExecutionConfig(input);
    if (result.success) throw new Error(`expected ${JSON.stringify(input)} to fail`);
    return result.error.message;
  };

  // One failing and one passing case per validation rule.
  const RULES: readonly [rule: string, bad: Record<string, unknown>, good: Record<string, unknown>][] = [
    ["devices rejects booleans", { devices: true }, { devices: "auto" }],
    ["devices must be positive", { devices: 0 }, { devices: 2 }],
    ["precision is a closed set", { precision: "64-true" }, { precision: "bf16-mixed" }],
    ["tpu is refused", { accelerator: "tpu" }, { accelerator: "gpu" }],
    ["accelerator is a closed set", { accelerator: "xpu" }, { accelerator: "mps" }],
    ["numWorkers >= 0", { numWorkers: -1 }, { numWorkers: 0 }],
    ["learningRate > 0", { learningRate: 0 }, { learningRate: 1e-5 }],
    ["learningRate is finite", { learningRate: Number.POSITIVE_INFINITY }, { learningRate: 3e-4 }],
    ["learningRate is not NaN", { learningRate: Number.NaN }, { learningRate: 1 }],
    ["inferenceBatchSize > 0", { inferenceBatchSize: 0 }, { inferenceBatchSize: 64 }],
    ["accumulateGradBatches > 0", { accumulateGradBatches: 0 }, { accumulateGradBatches: 4 }],
    ["checkpointSaveTopK >= -1", { checkpointSaveTopK: -2 }, { checkpointSaveTopK: -1 }],
    ["earlyStopPatience > 0", { earlyStopPatience: 0 }, { earlyStopPatience: 5 }],
    ["checkpointMode is min or max", { checkpointMode: "lowest" }, { checkpointMode: "max" }],
    ["logger is a closed set", { logger: "wandb" }, { logger: "none" }],
    ["scheduler is one closed enum", { scheduler: "CosineAnnealing" }, { scheduler: "WarmupCosine" }],
    [
      "persistentWorkers needs workers",
      { persistentWorkers: true },
      { persistentWorkers: true, numWorkers: 2, deterministic: false },
    ],
    [
      "prefetchFactor needs workers",
      { prefetchFactor: 2 },
      { prefetchFactor: 2, numWorkers: 1, deterministic: false },
    ],
    [
      "MultiStage needs milestones",
      { scheduler: "MultiStage" },
      { scheduler: "MultiStage", lrMilestones: [10, 20] },
    ],
    [
      "milestones increase",
      { scheduler: "MultiStage", lrMilestones: [20, 10] },
      { lrMilestones: [10, 20], scheduler: "MultiStage" },
    ],
    ["lrGamma in (0, 1]", { lrGamma: 1.5 }, { lrGamma: 1, scheduler: "Exponential" }],
    ["adamBeta2 below 1", { adamBeta2: 1 }, { adamBeta2: 0.99 }],
    ["gradientClipVal > 0", { gradientClipVal: 0 }, { gradientClipVal: 1 }],
    ["seed is a non-negative integer", { seed: -1 }, { seed: 42 }],
    ["strategy is not empty", { strategy: "" }, { strategy: "ddp" }],
    ["deterministic is a boolean or warn", { deterministic: "yes" }, { deterministic: "warn" }],
    [
      "mlflowTrackingUri is not empty",
      { mlflowTrackingUri: "" },
      { mlflowTrackingUri: "http://x", logger: "mlflow" },
    ],
  ];

  it.each(RULES)("enforces: %s", (_rule, bad, good) => {
    expect(safeParseExecutionConfig(bad).success).toBe(false);
    const ok = safeParseExecutionConfig(good);
    expect(ok.success).toBe(true);
    expect(ok.warnings).toEqual([]);
  });

  it("says what to use instead of a TPU", () => {
    expect(message({ accelerator: "tpu" })).toMatchInlineSnapshot(
      `"execution.accelerator: TPUs are not supported (there is no Torch-XLA path); use "gpu" (alias "cuda"), "mps", "cpu", or "auto" to pick the best available, got "tpu"."`,
    );
  });

  it("names field, value and fix for a rule violation", () => {
    expect(message({ persistentWorkers: true })).toMatchInlineSnapshot(
      `"execution.persistentWorkers: needs numWorkers > 0 (there are no worker processes to keep alive), got true. Set numWorkers to 1 or more, or drop persistentWorkers."`,
    );
  });

  it("lists every problem at once, with the origin when known", () => {
    const result = safeParseExecutionConfig(
      { numWorkers: -3, logger: "wandb", learningRat: 0.1 },
      {
        describeOrigin: (field) => (field === "numWorkers" ? "--num-workers on the command line" : undefined),
      },
    );
    expect(result.success ? "" : result.error.message).toMatchInlineSnapshot(`
      "3 problems:
        - execution.numWorkers: must be >= 0, got -3 (from --num-workers on the command line).
        - execution.logger: must be one of "csv", "tensorboard", "mlflow", "none", got "wandb".
        - execution.learningRat: is not a known setting, got 0.1. Did you mean "learningRate"?"
    `);
  });

  it("throws a coded ConfigError", () => {
    expect(() => parseExecutionConfig({ batch_size: 3 })).toThrow(
      expect.objectContaining({ name: "ConfigError", code: "UNKNOWN_KEY" }),
    );
    let thrown: unknown;
    try {
      parseExecutionConfig({ numWorkers: "2" });
    } catch (error) {
      thrown = error;
    }
    expect(isConfigError(thrown, "INVALID_VALUE")).toBe(true);
  });

  it("warns, and does not fail, for deterministic with workers", () => {
    const warnings: unknown[] = [];
    const config = parseExecutionConfig({ numWorkers: 4 }, { onWarning: (w) => warnings.push(w) });
    expect(config.numWorkers).toBe(4);
    expect(warnings).toMatchInlineSnapshot(`
      [
        {
          "code": "DETERMINISTIC_WITH_WORKERS",
          "message": "deterministic=true with numWorkers=4 may cause performance degradation; results stay reproducible only with the same worker count.",
          "path": "execution.deterministic",
        },
      ]
    `);
  });

  it.each([
    [{ lrGamma: 0.5 }, "execution.lrGamma"],
    [{ plateauPatience: 5, scheduler: "Exponential" }, "execution.plateauPatience"],
    [{ momentum: 0.5 }, "execution.momentum"],
    [{ optimizer: "sgd", adamBeta1: 0.8 }, "execution.adamBeta1"],
    [{ gradientClipAlgorithm: "value" }, "execution.gradientClipAlgorithm"],
    [{ enableCheckpointing: false, checkpointSaveTopK: 3 }, "execution.checkpointSaveTopK"],
    [{ mlflowTrackingUri: "http://u:p@host" }, "execution.mlflowTrackingUri"],
  ])("warns that %j has no effect", (input, path) => {
    const result = safeParseExecutionConfig(input);
    expect(result.success).toBe(true);
    expect(result.warnings.map((w) => [w.code, w.path])).toEqual([["UNUSED_SETTING", path]]);
  });

  it("never shows a secret value in an error", () => {
    expect(message({ mlflowTrackingUri: 42 })).not.toContain("42");
  });

  it("parses any schema-valid input to a value that survives JSON and re-parses to itself", () => {
    fc.assert(
      fc.property(sectionInput(ExecutionConfigSchema), (input) => {
        const result = safeParseExecutionConfig(input);
        fc.pre(result.success);
        if (!result.success) return;
        const copy = JSON.parse(JSON.stringify(result.data));
        expect(copy).toEqual(result.data);
        expect(parseExecutionConfig(copy)).toEqual(result.data);
      }),
      { numRuns: 300 },
    );
  });
});
