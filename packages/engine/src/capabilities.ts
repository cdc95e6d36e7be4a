// What the embedded engine does with every setting, as a table typed over every key of every payload
// section: a field added to a schema without an entry here is a type error. Light on purpose: no
// TensorFlow.js import, so the launcher can check a payload (--dry-run) without loading the engine.
// The model and training limits come from the compute core's own list (tf/capabilities.ts).
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  type Capability,
  honoured,
  onlyValues,
  refused,
  rule,
  type Support,
  type SupportTable,
  tableCapabilities,
} from "@trainkit/config-meta";
import { type ExecutionConfig, ExecutionConfigSchema } from "@trainkit/execution-config";
import {
  type InferenceConfig,
  InferenceConfigSchema,
  type ModelConfig,
  ModelConfigSchema,
  type TrainingConfig,
  TrainingConfigSchema,
} from "@trainkit/training-config";
import { type CapabilityInput, TF_CAPABILITIES, TF_CAPABILITY_RULES } from "./tf/capabilities.ts";

export type { Capability };

/** The engine's version, recorded in manifests and bundles. */
export const ENGINE_VERSION = "0.0.0";

/** Every section the engine reads, as resolved. */
export interface EngineSections {
  readonly model: ModelConfig;
  readonly training: TrainingConfig;
  readonly inference: InferenceConfig;
  readonly execution: ExecutionConfig;
}

const MODEL_CODE = "packages/engine/src/tf/model.ts";
const TRAIN_DATA = "packages/engine/src/train/data.ts";
const TRAIN_LOOP = "packages/engine/src/train/loop.ts";
const INFER = "packages/engine/src/infer.ts";
const STITCH = "packages/engine/src/stitch.ts";
const GROUPING = "packages/engine/src/loop/grouping.ts";
const OPTIMIZERS = "packages/engine/src/loop/optimizers.ts";
const CLIPPING = "packages/engine/src/loop/gradient-clipping.ts";
const SCHEDULERS = "packages/engine/src/loop/schedulers.ts";
const CHECKPOINTS = "packages/engine/src/loop/checkpoint-manager.ts";
const MONITOR = "packages/engine/src/loop/monitor.ts";
const EARLY_STOPPING = "packages/engine/src/loop/early-stopping.ts";
const LOSSES = "packages/engine/src/tf/losses.ts";

/** An entry from the compute core's list: `"any"` is honoured by `readBy`, a list is `only`. */
function core(path: string, readBy: string = MODEL_CODE): Support {
  const entry = TF_CAPABILITIES.find((c) => c.field === path);
  if (!entry) throw new Error(`tf/capabilities.ts has no entry for ${path}`);
  return entry.supported === "any"
    ? honoured(readBy, entry.note)
    : onlyValues(entry.supported as readonly unknown[], entry.note);
}

const FNO = "FNO-family generators only; the embedded engine builds the CNN, which has no such setting.";
const NO_GPU = "The embedded engine runs on the CPU (WebAssembly); for a GPU use --backend process.";

/** The cross-field rule of the compute core, checked on the first of its fields. */
const supervisedCanvas = rule(
  TF_CAPABILITY_RULES[0]!.requirement,
  (_value, config) => TF_CAPABILITY_RULES[0]!.check(config as unknown as CapabilityInput) === undefined,
  "A supervised model compares one decoded patch per scan position with Y.",
);

/** What the embedded engine honours, restricts or refuses, field by field. */
export const EMBEDDED_SUPPORT = {
  model: {
    N: core("model.N"),
    gridsize: core("model.gridsize"),
    nFiltersScale: core("model.nFiltersScale"),
    modelType: supervisedCanvas,
    architecture: core("model.architecture"),
    fnoModes: refused(FNO),
    fnoWidth: refused(FNO),
    fnoBlocks: refused(FNO),
    fnoCnnBlocks: refused(FNO),
    learnedInputChannels: refused(FNO),
    maxHiddenChannels: core("model.maxHiddenChannels"),
    resnetWidth: core("model.resnetWidth"),
    fnoInputTransform: core("model.fnoInputTransform"),
    generatorOutputMode: core("model.generatorOutputMode"),
    ampActivation: core("model.ampActivation"),
    objectBig: core("model.objectBig"),
    probeBig: core("model.probeBig"),
    probeMask: core("model.probeMask"),
    probeMaskSigma: core("model.probeMaskSigma"),
    probeMaskDiameter: core("model.probeMaskDiameter"),
    padObject: core("model.padObject"),
    probeScale: core("model.probeScale"),
    gaussianSmoothingSigma: core("model.gaussianSmoothingSigma"),
  },
  training: {
    trainDataFile: honoured(TRAIN_DATA, "Read with @trainkit/data; the data contract is checked first."),
    testDataFile: honoured(TRAIN_DATA, "Validation loss each epoch (val_loss)."),
    batchSize: honoured(TRAIN_LOOP, "Groups per step."),
    nepochs: honoured(TRAIN_LOOP, "Epochs."),
    maeWeight: core("training.maeWeight", LOSSES),
    nllWeight: core("training.nllWeight", LOSSES),
    realspaceMaeWeight: core("training.realspaceMaeWeight", LOSSES),
    realspaceWeight: core("training.realspaceWeight", LOSSES),
    nphotons: core("training.nphotons"),
    nGroups: honoured(GROUPING, "Groups drawn per epoch."),
    nSubsample: honoured(GROUPING, "Positions kept before grouping."),
    subsampleSeed: honoured(
      GROUPING,
      "Seed of the subsample and of the group draws (null: from execution.seed).",
    ),
    neighborCount: honoured(GROUPING, "Nearest neighbours a group is drawn from (gridsize > 1)."),
    enableOversampling: honoured(GROUPING, "More groups than positions by drawing with replacement."),
    neighborPoolSize: honoured(GROUPING, "Neighbour pool for oversampling."),
    backend: onlyValues(
      ["tensorflow"],
      'Upstream\'s dispatcher key: the embedded engine is the TensorFlow-side model (TensorFlow.js); "pytorch" needs --backend process.',
    ),
    positionsProvided: onlyValues([true], "The engine always places patches at the data's xcoords/ycoords."),
    probeTrainable: core("training.probeTrainable"),
    intensityScaleTrainable: core("training.intensityScaleTrainable"),
    outputDir: honoured("packages/launcher/src/launch.ts (runDirectoryOf)", "The run directory."),
    sequentialSampling: honoured(GROUPING, "Consecutive positions instead of random seeds."),
    torchLossMode: core("training.torchLossMode"),
    torchMaePredL2MatchTarget: core("training.torchMaePredL2MatchTarget"),
    foldCount: honoured(
      TRAIN_DATA,
      "k-fold validation: trains outside fold foldIndex, val_loss on it (folds.json).",
    ),
    foldIndex: honoured(TRAIN_DATA, "The held-out fold (spatially contiguous stripes of the scan)."),
  },
  inference: {
    modelPath: rule(
      "a trainkit model bundle (model.zip, or a run directory holding one); a directory trained by upstream's program (wts.h5.zip) runs with --backend process --dialect ptycho-torch",
      (v) => typeof v !== "string" || !existsSync(join(v, "wts.h5.zip")) || existsSync(join(v, "model.zip")),
      "Read by packages/engine/src/infer.ts.",
    ),
    testDataFile: honoured(INFER, "The data to reconstruct."),
    nGroups: honoured(STITCH, "null: every scan position."),
    nSubsample: honoured("packages/engine/src/dataset.ts (nSubsample)", "Positions kept before grouping."),
    subsampleSeed: honoured("packages/engine/src/dataset.ts (subsampleSeed)"),
    neighborCount: honoured("packages/engine/src/dataset.ts (neighborCount)"),
    enableOversampling: honoured(STITCH),
    neighborPoolSize: honoured("packages/engine/src/dataset.ts (neighborPoolSize)"),
    backend: onlyValues(["tensorflow"], "Upstream's dispatcher key; see training.backend."),
    debug: refused("the embedded engine writes no intermediate arrays."),
    outputDir: honoured("packages/launcher/src/launch.ts (runDirectoryOf)", "The run directory."),
  },
  execution: {
    computeThreads: honoured(
      "packages/engine/src/compute.ts (computeThreads)",
      "WebAssembly threads; auto: the orchestrator's TRAINKIT_THREAD_BUDGET, else every core.",
    ),
    accelerator: onlyValues(["auto", "cpu"], `"auto" resolves to "cpu" (the inferred level). ${NO_GPU}`),
    devices: onlyValues([1, "auto"], "One process, one WebAssembly module."),
    strategy: onlyValues(["auto"], "No distributed training."),
    precision: onlyValues(["32-true"], "WebAssembly kernels compute in float32."),
    deterministic: honoured(
      "packages/engine/src/loop/rng.ts (seeded streams)",
      "Always met: every random stream comes from the seed and the WebAssembly kernels are deterministic for any thread count.",
    ),
    seed: honoured("packages/engine/src/loop/rng.ts (seed)", "Weights, shuffling and grouping."),
    numWorkers: honoured(
      "packages/engine/src/loop/workers.ts (numWorkers)",
      "Batches gathered in worker threads.",
    ),
    pinMemory: refused("no GPU: pinned host memory only speeds up copies to a GPU."),
    persistentWorkers: refused(
      "the engine's worker threads live for the whole run anyway; there is nothing to keep.",
    ),
    prefetchFactor: honoured(
      "packages/engine/src/loop/workers.ts (prefetchFactor)",
      "Batches in flight per worker.",
    ),
    optimizer: honoured(OPTIMIZERS),
    learningRate: honoured(SCHEDULERS),
    momentum: honoured(OPTIMIZERS, "SGD only."),
    weightDecay: honoured(OPTIMIZERS),
    adamBeta1: honoured(OPTIMIZERS),
    adamBeta2: honoured(OPTIMIZERS),
    scheduler: honoured(SCHEDULERS),
    lrGamma: honoured(SCHEDULERS, "Exponential."),
    lrMilestones: honoured(SCHEDULERS, "MultiStage."),
    lrMilestoneFactor: honoured(SCHEDULERS, "MultiStage."),
    lrWarmupEpochs: honoured(SCHEDULERS, "WarmupCosine."),
    lrMinRatio: honoured(SCHEDULERS, "WarmupCosine."),
    plateauFactor: honoured(SCHEDULERS, "ReduceLROnPlateau."),
    plateauPatience: honoured(SCHEDULERS, "ReduceLROnPlateau."),
    plateauMinLr: honoured(SCHEDULERS, "ReduceLROnPlateau."),
    plateauThreshold: honoured(SCHEDULERS, "ReduceLROnPlateau."),
    gradientClipVal: honoured(CLIPPING, "Clipping before each step."),
    gradientClipAlgorithm: honoured(CLIPPING, "norm (global), value, agc (unit-wise)."),
    accumulateGradBatches: honoured(TRAIN_LOOP, "Micro-batches averaged per step."),
    enableCheckpointing: honoured(CHECKPOINTS),
    checkpointSaveTopK: honoured(CHECKPOINTS, "-1 keeps all, 0 none."),
    checkpointMonitor: honoured(
      MONITOR,
      "val_loss resolves to the engine's metric (audit.json resolvedAtRun).",
    ),
    checkpointMode: honoured(MONITOR),
    earlyStopPatience: honoured(EARLY_STOPPING),
    checkValEveryNEpoch: honoured(TRAIN_LOOP, "val_loss on epochs n-1, 2n-1, ... and the last."),
    logger: onlyValues(
      ["csv", "tensorboard", "none"],
      "No MLflow client in the engine; use --backend process.",
    ),
    mlflowTrackingUri: onlyValues([null], "No MLflow logger in the engine."),
    enableProgressBar: honoured("packages/engine/src/loop/progress.ts (enableProgressBar)"),
    inferenceBatchSize: honoured(INFER, "Falls back to the training batch size."),
    middleTrim: honoured(INFER, "Pixels trimmed from each patch edge before stitching."),
    patchWeighting: honoured(INFER),
    padEval: onlyValues([false], "The embedded stitcher uses the scanned region as it is."),
  },
} as const satisfies SupportTable<EngineSections>;

const HINT = "Use --backend process with a trainer that supports it (see docs/backends.md).";

/** Every setting whose value the embedded engine restricts, for the launcher's check. */
export const EMBEDDED_CAPABILITIES: readonly Capability[] = tableCapabilities(
  EMBEDDED_SUPPORT,
  {
    model: ModelConfigSchema,
    training: TrainingConfigSchema,
    inference: InferenceConfigSchema,
    execution: ExecutionConfigSchema,
  },
  HINT,
).map((c) =>
  c.path === "execution.accelerator"
    ? { ...c, hint: "The embedded engine runs on the CPU (WebAssembly); for a GPU use --backend process." }
    : c,
);
