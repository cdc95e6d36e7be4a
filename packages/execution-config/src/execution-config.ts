import { defineField, type FieldMeta, sectionDefaults } from "@trainkit/config-meta";
import * as z from "zod";

/** Accepted accelerators. `tpu` is refused with a message (upstream has no Torch-XLA path). */
export const ACCELERATORS = ["auto", "cpu", "gpu", "cuda", "mps"] as const;
export type Accelerator = (typeof ACCELERATORS)[number];
export const PRECISIONS = ["32-true", "16-mixed", "bf16-mixed"] as const;
export const OPTIMIZERS = ["adam", "adamw", "sgd"] as const;
/** The one learning-rate scheduler enum (upstream had two disagreeing ones). */
export const SCHEDULERS = [
  "Default",
  "Exponential",
  "MultiStage",
  "Adaptive",
  "WarmupCosine",
  "ReduceLROnPlateau",
] as const;
export type Scheduler = (typeof SCHEDULERS)[number];
export const GRADIENT_CLIP_ALGORITHMS = ["norm", "value", "agc"] as const;
export const CHECKPOINT_MODES = ["min", "max"] as const;
export const LOGGERS = ["csv", "tensorboard", "mlflow", "none"] as const;
/** How the inference stitcher averages overlapping patches (upstream PyTorch `patch_weighting`). */
export const PATCH_WEIGHTINGS = ["probe", "uniform"] as const;
export type Logger = (typeof LOGGERS)[number];

type ExecMeta = Omit<FieldMeta, "group" | "legacyKey"> & { readonly category: ExecutionCategory };
export const EXECUTION_CATEGORIES = [
  "hardware",
  "loaders",
  "optimisation",
  "checkpoints",
  "logging",
  "inference",
] as const;
export type ExecutionCategory = (typeof EXECUTION_CATEGORIES)[number];

/** Execution fields are never written to the legacy `params.cfg` dictionary. */
function exec<const T extends z.ZodType>(schema: T, meta: ExecMeta): T {
  return defineField(schema, { ...meta, group: "execution", legacyKey: null });
}

const positiveInt = () => z.int().positive();
const finite = () => z.number();

const accelerator = z.enum(ACCELERATORS, {
  error: (issue) =>
    issue.input === "tpu"
      ? 'TPUs are not supported (there is no Torch-XLA path); use "gpu" (alias "cuda"), "mps", "cpu", or "auto" to pick the best available'
      : undefined,
});

/** How a job runs: hardware, data loaders, optimisation, checkpoints, logging and inference batching. */
export const ExecutionConfigSchema = z.strictObject({
  // hardware
  accelerator: exec(accelerator.default("auto"), {
    category: "hardware",
    upstream: "accelerator",
    description: 'Hardware to run on; "auto" picks a GPU when one is available, else the CPU.',
    deprecatedFlags: [{ flag: "device", values: { cuda: "gpu" } }],
    valueName: "NAME",
  }),
  devices: exec(
    z.union([positiveInt(), z.literal("auto")], { error: 'must be a positive integer or "auto"' }).default(1),
    {
      category: "hardware",
      upstream: "devices",
      description: 'Number of devices to use, or "auto" for all visible ones.',
      valueName: "N",
    },
  ),
  strategy: exec(z.string().min(1).default("auto"), {
    category: "hardware",
    upstream: "strategy",
    description: 'Distributed strategy name passed to the trainer (e.g. "auto", "ddp").',
    valueName: "NAME",
  }),
  precision: exec(z.enum(PRECISIONS).default("32-true"), {
    category: "hardware",
    upstream: "precision",
    description: "Numeric precision of training.",
  }),
  deterministic: exec(
    z.union([z.boolean(), z.literal("warn")], { error: 'must be true, false or "warn"' }).default(true),
    {
      category: "hardware",
      upstream: "deterministic",
      description: 'Use deterministic algorithms ("warn" only warns about non-deterministic ones).',
    },
  ),
  seed: exec(z.int().min(0).max(4294967295).default(0), {
    category: "hardware",
    upstream: "seed",
    description: "Seed for every random generator of the run (weights, shuffling, sampling).",
    valueName: "N",
  }),
  computeThreads: exec(
    z
      .union([positiveInt(), z.literal("auto")], { error: 'must be a positive integer or "auto"' })
      .default("auto"),
    {
      category: "hardware",
      upstream: "compute_threads",
      description:
        'CPU threads of the compute kernels (embedded engine: WebAssembly threads; external programs: OMP_NUM_THREADS); "auto" takes the budget in TRAINKIT_THREAD_BUDGET, else every core.',
      valueName: "N",
    },
  ),
  // loaders
  numWorkers: exec(z.int().min(0).default(0), {
    category: "loaders",
    upstream: "num_workers",
    description: "Data-loader worker processes; 0 loads data in the main process.",
    valueName: "N",
  }),
  pinMemory: exec(z.boolean().default(false), {
    category: "loaders",
    upstream: "pin_memory",
    description: "Copy batches into page-locked memory for faster host-to-GPU transfer.",
  }),
  persistentWorkers: exec(z.boolean().default(false), {
    category: "loaders",
    upstream: "persistent_workers",
    description: "Keep loader workers alive between epochs (needs numWorkers > 0).",
  }),
  prefetchFactor: exec(positiveInt().nullable().default(null), {
    category: "loaders",
    upstream: "prefetch_factor",
    description:
      "Batches each worker loads ahead (needs numWorkers > 0); null uses the loader's default of 2.",
    valueName: "N",
  }),
  // optimisation
  optimizer: exec(z.enum(OPTIMIZERS).default("adam"), {
    category: "optimisation",
    upstream: "optimizer",
    description: "Optimisation algorithm.",
  }),
  learningRate: exec(finite().positive().default(1e-3), {
    category: "optimisation",
    upstream: "learning_rate",
    description: "Initial learning rate.",
    valueName: "RATE",
  }),
  momentum: exec(finite().min(0).max(1).default(0.9), {
    category: "optimisation",
    upstream: "momentum",
    description: "Momentum of the sgd optimizer.",
    valueName: "X",
  }),
  weightDecay: exec(finite().min(0).default(0), {
    category: "optimisation",
    upstream: "weight_decay",
    description: "L2 weight decay (decoupled for adamw).",
    valueName: "X",
  }),
  adamBeta1: exec(finite().min(0).lt(1).default(0.9), {
    category: "optimisation",
    upstream: "adam_beta1",
    description: "First-moment decay of adam and adamw, in [0, 1).",
    valueName: "X",
  }),
  adamBeta2: exec(finite().min(0).lt(1).default(0.999), {
    category: "optimisation",
    upstream: "adam_beta2",
    description: "Second-moment decay of adam and adamw, in [0, 1).",
    valueName: "X",
  }),
  scheduler: exec(z.enum(SCHEDULERS).default("Default"), {
    category: "optimisation",
    upstream: "scheduler",
    description: "Learning-rate schedule; its parameters are the lr* and plateau* settings.",
  }),
  lrGamma: exec(finite().positive().max(1).default(0.95), {
    category: "optimisation",
    upstream: "lr_gamma",
    description: "Exponential: factor applied to the learning rate after every epoch, in (0, 1].",
    valueName: "X",
  }),
  lrMilestones: exec(
    z
      .array(positiveInt())
      .refine((a) => a.every((v, i) => i === 0 || v > a[i - 1]!), {
        error: "must be strictly increasing epochs",
      })
      .default([]),
    {
      category: "optimisation",
      upstream: "lr_milestones",
      description: "MultiStage: epochs at which the learning rate is multiplied by lrMilestoneFactor.",
      valueName: "EPOCHS",
    },
  ),
  lrMilestoneFactor: exec(finite().positive().max(1).default(0.1), {
    category: "optimisation",
    upstream: "lr_milestone_factor",
    description: "MultiStage: factor applied to the learning rate at each milestone, in (0, 1].",
    valueName: "X",
  }),
  lrWarmupEpochs: exec(z.int().min(0).default(0), {
    category: "optimisation",
    upstream: "lr_warmup_epochs",
    description: "WarmupCosine: epochs of linear warm-up before the cosine decay.",
    valueName: "N",
  }),
  lrMinRatio: exec(finite().min(0).max(1).default(0.1), {
    category: "optimisation",
    upstream: "lr_min_ratio",
    description: "WarmupCosine: final learning rate as a fraction of the initial one.",
    valueName: "X",
  }),
  plateauFactor: exec(finite().positive().lt(1).default(0.5), {
    category: "optimisation",
    upstream: "plateau_factor",
    description: "ReduceLROnPlateau and Adaptive: factor applied when the monitored loss stops improving.",
    valueName: "X",
  }),
  plateauPatience: exec(z.int().min(0).default(2), {
    category: "optimisation",
    upstream: "plateau_patience",
    description: "ReduceLROnPlateau and Adaptive: epochs without improvement before reducing.",
    valueName: "N",
  }),
  plateauMinLr: exec(finite().min(0).default(5e-5), {
    category: "optimisation",
    upstream: "plateau_min_lr",
    description: "ReduceLROnPlateau and Adaptive: lower bound of the learning rate.",
    valueName: "RATE",
  }),
  plateauThreshold: exec(finite().min(0).default(0), {
    category: "optimisation",
    upstream: "plateau_threshold",
    description: "ReduceLROnPlateau and Adaptive: relative improvement that counts as progress.",
    valueName: "X",
  }),
  gradientClipVal: exec(finite().positive().nullable().default(null), {
    category: "optimisation",
    upstream: "gradient_clip_val",
    description: "Clip gradients at this value (see gradientClipAlgorithm); null disables clipping.",
    valueName: "X",
  }),
  gradientClipAlgorithm: exec(z.enum(GRADIENT_CLIP_ALGORITHMS).default("norm"), {
    category: "optimisation",
    upstream: "gradient_clip_algorithm",
    description: "How gradients are clipped: by global norm, by value, or adaptively (agc).",
  }),
  accumulateGradBatches: exec(positiveInt().default(1), {
    category: "optimisation",
    upstream: "accum_steps",
    description: "Accumulate gradients over this many batches before each optimizer step.",
    valueName: "N",
  }),
  // checkpoints
  enableCheckpointing: exec(z.boolean().default(true), {
    category: "checkpoints",
    upstream: "enable_checkpointing",
    description: "Save checkpoints during training.",
    negatedFlags: ["disable-checkpointing"],
  }),
  checkpointSaveTopK: exec(z.int().min(-1).default(1), {
    category: "checkpoints",
    upstream: "checkpoint_save_top_k",
    description: "Best checkpoints to keep: -1 keeps all, 0 keeps none but the last.",
    valueName: "K",
  }),
  checkpointMonitor: exec(z.string().min(1).default("val_loss"), {
    category: "checkpoints",
    upstream: "checkpoint_monitor_metric",
    description:
      'Metric that ranks checkpoints and drives early stopping ("val_loss" falls back to "train_loss" without validation data).',
    valueName: "METRIC",
  }),
  checkpointMode: exec(z.enum(CHECKPOINT_MODES).default("min"), {
    category: "checkpoints",
    upstream: "checkpoint_mode",
    description: "Whether a lower or a higher monitored metric is better.",
  }),
  earlyStopPatience: exec(positiveInt().default(100), {
    category: "checkpoints",
    upstream: "early_stop_patience",
    description: "Stop after this many epochs without improvement of the monitored metric.",
    valueName: "N",
  }),
  checkValEveryNEpoch: exec(positiveInt().default(1), {
    category: "checkpoints",
    upstream: "check_val_every_n_epoch",
    flag: "check-val-every-n-epoch",
    description:
      "Validate every N epochs and after the last; with a validation monitor, epochs in between rank no checkpoint and count toward no patience.",
    valueName: "N",
  }),
  // logging
  logger: exec(z.enum(LOGGERS).default("csv"), {
    category: "logging",
    upstream: "logger_backend",
    description: 'Where metrics are logged; "none" disables logging.',
  }),
  mlflowTrackingUri: exec(z.string().min(1).nullable().default(null), {
    category: "logging",
    upstream: "mlflow_tracking_uri",
    description:
      "MLflow tracking server (may embed credentials, so it is never printed); null logs under the run directory.",
    secret: true,
    valueName: "URI",
  }),
  enableProgressBar: exec(z.boolean().default(false), {
    category: "logging",
    upstream: "enable_progress_bar",
    description: "Show a progress bar (on by default when the output is a terminal).",
    negatedFlags: ["quiet"],
  }),
  // inference
  inferenceBatchSize: exec(positiveInt().nullable().default(null), {
    category: "inference",
    upstream: "inference_batch_size",
    description: "Batch size of the inference forward pass; null reuses the training batch size.",
    valueName: "N",
  }),
  middleTrim: exec(z.int().min(0).default(0), {
    category: "inference",
    upstream: "middle_trim",
    description: "Pixels trimmed from each edge of a predicted patch before stitching.",
    valueName: "PX",
  }),
  patchWeighting: exec(z.enum(PATCH_WEIGHTINGS).default("probe"), {
    category: "inference",
    upstream: "patch_weighting",
    description:
      'How overlapping patches are averaged when stitching: "probe" weights each pixel by the probe intensity there, "uniform" counts every pixel of the (trimmed) patch alike.',
  }),
  padEval: exec(z.boolean().default(false), {
    category: "inference",
    upstream: "pad_eval",
    description: "Pad the object canvas during evaluation so border patches are complete.",
  }),
});

/** A resolved execution config: every field present. */
export type ExecutionConfig = z.output<typeof ExecutionConfigSchema>;
/** What a user may write: every field optional. */
export type ExecutionConfigInput = z.input<typeof ExecutionConfigSchema>;

/** The defaults of every execution field (upstream defaults, plus `seed: 0`). */
export const EXECUTION_DEFAULTS: ExecutionConfig = sectionDefaults(ExecutionConfigSchema) as ExecutionConfig;
