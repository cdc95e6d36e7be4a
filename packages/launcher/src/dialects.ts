// How a payload reaches an external program, as one support table per dialect, typed over every key
// of every payload section (a schema field without an entry is a type error).
// `payload`: the whole payload as a file; the program gets every setting and must refuse what it
// cannot do. `ptycho-torch`: the flags of upstream's `python -m ptycho_torch.train` /
// `ptycho_torch.inference` (reference 6.1, 6.2), every mapped value rendered explicitly so the
// program's parser defaults never apply; for every setting without a flag, the value upstream's CLI
// and config factory really use (reference 3, 4, 5.3, 5.4, 6.3, 6.7; ptycho_torch at 712c23f).
import {
  type Honoured,
  honoured,
  type Only,
  onlyValues,
  type Refused,
  type RuleSupport,
  refused,
  rule,
  type SupportTable,
  sameValue,
} from "@trainkit/config-meta";
import type {
  AnyPayload,
  InferencePayloadConfig,
  LayerEntry,
  TrainingPayloadConfig,
} from "@trainkit/factory";

export const DIALECTS = ["payload", "ptycho-torch"] as const;
export type Dialect = (typeof DIALECTS)[number];

type Config = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

// ---------------------------------------------------------------------------------------------
// The `payload` dialect: every field reaches the program in payload.json.

const FILE = honoured(
  "payload.json (--payload FILE, TRAINKIT_PAYLOAD)",
  "The program must refuse what it cannot do.",
);
const SECRET = honoured(
  "TRAINKIT_EXECUTION_MLFLOW_TRACKING_URI (packages/launcher/src/process-backend.ts)",
  "Masked in payload.json; the value travels in the environment.",
);

const MODEL_FILE = {
  N: FILE,
  gridsize: FILE,
  nFiltersScale: FILE,
  modelType: FILE,
  architecture: FILE,
  fnoModes: FILE,
  fnoWidth: FILE,
  fnoBlocks: FILE,
  fnoCnnBlocks: FILE,
  learnedInputChannels: FILE,
  maxHiddenChannels: FILE,
  resnetWidth: FILE,
  fnoInputTransform: FILE,
  generatorOutputMode: FILE,
  ampActivation: FILE,
  objectBig: FILE,
  probeBig: FILE,
  probeMask: FILE,
  probeMaskSigma: FILE,
  probeMaskDiameter: FILE,
  padObject: FILE,
  probeScale: FILE,
  gaussianSmoothingSigma: FILE,
} as const;

const EXECUTION_FILE = {
  computeThreads: honoured(
    "the program's payload file, and OMP_NUM_THREADS/MKL_NUM_THREADS in its environment (packages/launcher/src/process-backend.ts threadEnvironment)",
  ),
  accelerator: FILE,
  devices: FILE,
  strategy: FILE,
  precision: FILE,
  deterministic: FILE,
  seed: FILE,
  numWorkers: FILE,
  pinMemory: FILE,
  persistentWorkers: FILE,
  prefetchFactor: FILE,
  optimizer: FILE,
  learningRate: FILE,
  momentum: FILE,
  weightDecay: FILE,
  adamBeta1: FILE,
  adamBeta2: FILE,
  scheduler: FILE,
  lrGamma: FILE,
  lrMilestones: FILE,
  lrMilestoneFactor: FILE,
  lrWarmupEpochs: FILE,
  lrMinRatio: FILE,
  plateauFactor: FILE,
  plateauPatience: FILE,
  plateauMinLr: FILE,
  plateauThreshold: FILE,
  gradientClipVal: FILE,
  gradientClipAlgorithm: FILE,
  accumulateGradBatches: FILE,
  enableCheckpointing: FILE,
  checkpointSaveTopK: FILE,
  checkpointMonitor: FILE,
  checkpointMode: FILE,
  earlyStopPatience: FILE,
  checkValEveryNEpoch: FILE,
  logger: FILE,
  mlflowTrackingUri: SECRET,
  enableProgressBar: FILE,
  inferenceBatchSize: FILE,
  middleTrim: FILE,
  patchWeighting: FILE,
  padEval: FILE,
} as const;

/** The `payload` dialect: every setting is in the program's payload file. */
export const PAYLOAD_DIALECT_SUPPORT = {
  training: {
    model: MODEL_FILE,
    training: {
      trainDataFile: FILE,
      testDataFile: FILE,
      batchSize: FILE,
      nepochs: FILE,
      maeWeight: FILE,
      nllWeight: FILE,
      realspaceMaeWeight: FILE,
      realspaceWeight: FILE,
      nphotons: FILE,
      nGroups: FILE,
      nSubsample: FILE,
      subsampleSeed: FILE,
      neighborCount: FILE,
      enableOversampling: FILE,
      neighborPoolSize: FILE,
      backend: FILE,
      positionsProvided: FILE,
      probeTrainable: FILE,
      intensityScaleTrainable: FILE,
      outputDir: FILE,
      sequentialSampling: FILE,
      torchLossMode: FILE,
      torchMaePredL2MatchTarget: FILE,
      foldCount: FILE,
      foldIndex: FILE,
    },
    execution: EXECUTION_FILE,
  } satisfies SupportTable<TrainingPayloadConfig>,
  inference: {
    model: MODEL_FILE,
    inference: {
      modelPath: FILE,
      testDataFile: FILE,
      nGroups: FILE,
      nSubsample: FILE,
      subsampleSeed: FILE,
      neighborCount: FILE,
      enableOversampling: FILE,
      neighborPoolSize: FILE,
      backend: FILE,
      debug: FILE,
      outputDir: FILE,
    },
    execution: EXECUTION_FILE,
  } satisfies SupportTable<InferencePayloadConfig>,
} as const;

// ---------------------------------------------------------------------------------------------
// The `ptycho-torch` dialect.

/** A field rendered as upstream flags. */
export interface Flag extends Honoured {
  /** The flag(s) the program must offer (read from `--help`). */
  readonly flags: readonly string[];
  /** The argv words for a value; null when the value has no rendering (refused). */
  readonly render: (value: unknown, config: Config) => readonly string[] | null;
  /** What the program uses when it lacks the flag (upstream's argparse default). */
  readonly absent: unknown;
  /** Which values render (when not every value does). */
  readonly requirement?: string;
  readonly check?: RuleSupport["check"];
}

/** A field without a flag: the value upstream's program uses, which the payload takes when unset. */
export interface Upstream extends RuleSupport {
  readonly effective: (config: Config) => unknown;
  /** Where upstream's value comes from, for the audit origin. */
  readonly from: string;
}

/** A field upstream infers from the same data file (N, nphotons): the payload's inferred value. */
export interface FromData extends RuleSupport {
  readonly fromData: true;
}

export type PtychoSupport = Flag | Upstream | FromData | Only | Refused | Honoured;

const TRAIN_PY = "ptycho_torch/train.py";
const INFER_PY = "ptycho_torch/inference.py";

const valueFlag =
  (flag: string) =>
  (v: unknown): readonly string[] =>
    v === null || v === undefined ? [] : [flag, String(v)];

function flag(
  program: string,
  flags: string | readonly [string, string],
  absent: unknown,
  extra: {
    readonly render?: Flag["render"];
    readonly note?: string;
    readonly requirement?: string;
    readonly check?: RuleSupport["check"];
  } = {},
): Flag {
  const list = typeof flags === "string" ? [flags] : [...flags];
  const render: Flag["render"] =
    extra.render ??
    (typeof flags === "string"
      ? valueFlag(flags)
      : (v) => (v === true ? [flags[0]] : v === false ? [flags[1]] : null));
  return {
    kind: "honoured",
    readBy: `${program} ${list.join("/")}`,
    flags: list,
    render,
    absent,
    ...(extra.note !== undefined ? { note: extra.note } : {}),
    ...(extra.requirement !== undefined ? { requirement: extra.requirement } : {}),
    ...(extra.check !== undefined ? { check: extra.check } : {}),
  };
}

const show = (v: unknown): string => JSON.stringify(v) ?? "null";

function upstream(value: unknown, from: string, note?: string): Upstream {
  const base = rule(`upstream's value ${show(value)} (${from})`, (v) => sameValue(v, value), note);
  return { ...base, effective: () => value, from };
}

function upstreamBy(
  effective: (config: Config) => unknown,
  requirement: string,
  from: string,
  note?: string,
): Upstream {
  const base = rule(requirement, (v, c) => sameValue(v, effective(c)), note);
  return { ...base, effective, from };
}

const fromData = (what: string): FromData => ({
  ...rule(`the value inferred from the data file (${what})`, () => true),
  fromData: true,
});

const PT_MODEL = "PT ModelConfig default";
const PT_DATA = "PT DataConfig default";
const TF = "canonical default, not bridged";
const FNO_NOTE = "Upstream's factory keeps the PT default; there is no flag.";

const MODEL_FLAGS = (program: string) =>
  ({
    probeMask: flag(program, ["--probe-mask", "--no-probe-mask"], false),
    probeMaskSigma: flag(program, "--probe-mask-sigma", 1),
    probeMaskDiameter: flag(program, "--probe-mask-diameter", null),
  }) as const;

const TRAINING_ONLY = "ptycho_torch.inference takes no such setting (it applies to training).";
const INFERENCE_ONLY = "ptycho_torch.train takes no such setting (it applies to inference).";

const NO_FOLDS =
  "ptycho_torch.train has no k-fold option: use the embedded backend, or --dialect payload with a program that reads training.foldCount and training.foldIndex (examples/torch-trainer does).";
const THREADS = honoured(
  "OMP_NUM_THREADS/MKL_NUM_THREADS in the program's environment (packages/launcher/src/process-backend.ts threadEnvironment)",
);

const TRAIN_EXECUTION = {
  computeThreads: THREADS,
  accelerator: flag(TRAIN_PY, "--accelerator", "auto"),
  devices: upstream(1, "Trainer(devices=1), hard-coded"),
  strategy: upstream("auto", "PyTorchExecutionConfig default"),
  precision: upstream("32-true", "not passed to the Trainer: Lightning's default"),
  deterministic: flag(TRAIN_PY, ["--deterministic", "--no-deterministic"], true),
  seed: upstreamBy(
    (c) => (c.training?.subsampleSeed as number | null | undefined) || 42,
    "training.subsampleSeed, or 42 when it is null or 0 (upstream seeds with `subsample_seed or 42`)",
    "L.seed_everything(subsample_seed or 42) in ptycho_torch/workflows/components.py",
  ),
  numWorkers: flag(TRAIN_PY, "--num-workers", 0),
  pinMemory: upstream(false, "PyTorchExecutionConfig default"),
  persistentWorkers: upstream(false, "PyTorchExecutionConfig default"),
  prefetchFactor: upstream(null, "PyTorchExecutionConfig default"),
  optimizer: upstream("adam", "PT TrainingConfig default"),
  learningRate: flag(TRAIN_PY, "--learning-rate", 1e-3),
  momentum: upstream(0.9, "PT TrainingConfig default"),
  weightDecay: upstream(0, "PT TrainingConfig default"),
  adamBeta1: upstream(0.9, "PT TrainingConfig default"),
  adamBeta2: upstream(0.999, "PT TrainingConfig default"),
  scheduler: upstream(
    "Default",
    "PT TrainingConfig default: --scheduler is only audited, the factory reads TrainingConfig.scheduler",
  ),
  lrGamma: refused("upstream has no such setting (and its scheduler is always Default)."),
  lrMilestones: refused("upstream has no such setting (and its scheduler is always Default)."),
  lrMilestoneFactor: refused("upstream has no such setting (and its scheduler is always Default)."),
  lrWarmupEpochs: upstream(0, "PT TrainingConfig default"),
  lrMinRatio: upstream(0.1, "PT TrainingConfig default"),
  plateauFactor: upstream(0.5, "PT TrainingConfig default"),
  plateauPatience: upstream(2, "PT TrainingConfig default"),
  plateauMinLr: upstream(5e-5, "PT TrainingConfig default"),
  plateauThreshold: upstream(0, "PT TrainingConfig default"),
  gradientClipVal: upstream(null, "no flag; the manually optimised Lightning module drops it anyway"),
  gradientClipAlgorithm: upstream("norm", "PT TrainingConfig default"),
  accumulateGradBatches: onlyValues(
    [1],
    "Upstream's Lightning module optimises manually and raises EXEC-ACCUM-001 at trainer construction for more than 1.",
  ),
  enableCheckpointing: flag(TRAIN_PY, ["--enable-checkpointing", "--disable-checkpointing"], true),
  checkpointSaveTopK: flag(TRAIN_PY, "--checkpoint-save-top-k", 1, {
    requirement: '0 or more (upstream exits with "checkpoint_save_top_k must be non-negative" for -1)',
    check: (v) => typeof v === "number" && v >= 0,
  }),
  checkpointMonitor: flag(TRAIN_PY, "--checkpoint-monitor", "val_loss", {
    requirement:
      '"val_loss" when training.testDataFile is set (upstream then monitors its own validation loss, whatever is asked)',
    check: (v, c) =>
      c.training?.testDataFile === null || c.training?.testDataFile === undefined || v === "val_loss",
  }),
  checkpointMode: flag(TRAIN_PY, "--checkpoint-mode", "min"),
  earlyStopPatience: flag(TRAIN_PY, "--early-stop-patience", 100),
  checkValEveryNEpoch: upstream(1, "Lightning Trainer default; ptycho_torch.train validates every epoch"),
  logger: flag(TRAIN_PY, "--logger", "csv"),
  mlflowTrackingUri: upstream(null, "MLFlowLogger(tracking_uri=<output_dir>/mlruns)"),
  enableProgressBar: flag(TRAIN_PY, "--quiet", true, {
    render: (v) => (v === false ? ["--quiet"] : v === true ? [] : null),
  }),
  inferenceBatchSize: refused(INFERENCE_ONLY),
  middleTrim: refused(INFERENCE_ONLY),
  patchWeighting: refused(INFERENCE_ONLY),
  padEval: refused(INFERENCE_ONLY),
} as const;

/** ptycho_torch.train: flags, and upstream's own value for every setting without one. */
const PTYCHO_TRAINING = {
  model: {
    N: fromData("probeGuess.shape[0], 64 without it: infer_probe_size"),
    gridsize: flag(TRAIN_PY, "--gridsize", 2),
    nFiltersScale: upstream(2, PT_MODEL),
    modelType: upstream("pinn", `${PT_MODEL} mode "Unsupervised"`),
    architecture: upstream("cnn", PT_MODEL),
    fnoModes: upstream(12, PT_MODEL, FNO_NOTE),
    fnoWidth: upstream(32, PT_MODEL, FNO_NOTE),
    fnoBlocks: upstream(4, PT_MODEL, FNO_NOTE),
    fnoCnnBlocks: upstream(2, PT_MODEL, FNO_NOTE),
    learnedInputChannels: upstream(1, PT_MODEL, FNO_NOTE),
    maxHiddenChannels: upstream(null, PT_MODEL),
    resnetWidth: upstream(null, PT_MODEL),
    fnoInputTransform: upstream("none", PT_MODEL),
    generatorOutputMode: upstream("real_imag", TF),
    ampActivation: upstream("swish", `${PT_MODEL} "silu", bridged as swish`),
    objectBig: upstreamBy(
      (c) => (c.model?.gridsize as number) > 1,
      "model.gridsize > 1 (upstream's CLI sets object_big from --gridsize)",
      "ptycho_torch.train sets object_big = gridsize > 1",
    ),
    probeBig: upstream(true, PT_MODEL),
    ...MODEL_FLAGS(TRAIN_PY),
    padObject: upstream(true, PT_MODEL),
    probeScale: upstream(4, PT_DATA),
    gaussianSmoothingSigma: upstream(0, PT_MODEL),
  },
  training: {
    trainDataFile: flag(TRAIN_PY, "--train_data_file", null),
    testDataFile: flag(TRAIN_PY, "--test_data_file", null),
    batchSize: flag(TRAIN_PY, "--batch_size", 16),
    nepochs: flag(TRAIN_PY, "--max_epochs", 100),
    maeWeight: upstream(0, "to_training_config: 0.0"),
    nllWeight: upstream(1, "to_training_config: nll True -> 1.0"),
    realspaceMaeWeight: upstream(0, "to_training_config: 0.0"),
    realspaceWeight: upstream(0, "to_training_config: 0.0"),
    nphotons: fromData("_metadata physics_parameters.nphotons, else 1e9"),
    nGroups: flag(TRAIN_PY, "--n_images", 512),
    nSubsample: upstream(null, "to_training_config: None"),
    subsampleSeed: upstream(null, `${PT_DATA} None`),
    neighborCount: upstream(6, `${PT_DATA} K`),
    enableOversampling: upstream(false, TF),
    neighborPoolSize: upstream(null, TF),
    backend: upstream("pytorch", "to_training_config: always pytorch"),
    positionsProvided: upstream(true, "to_training_config: True"),
    probeTrainable: upstream(false, "to_training_config: False"),
    intensityScaleTrainable: upstream(false, `${PT_MODEL} intensity_scale_trainable`),
    outputDir: flag(TRAIN_PY, "--output_dir", null),
    sequentialSampling: upstream(false, "to_training_config: False"),
    torchLossMode: flag(TRAIN_PY, "--torch-loss-mode", "poisson"),
    torchMaePredL2MatchTarget: upstream(false, "PT TrainingConfig default"),
    foldCount: refused(NO_FOLDS),
    foldIndex: refused(NO_FOLDS),
  },
  execution: TRAIN_EXECUTION,
} as const satisfies SupportTable<TrainingPayloadConfig, PtychoSupport>;

const uniformRoute = (c: Config) => c.execution?.patchWeighting === "uniform";

/** The structural model fields come from the bundle the program loads (params.dill). */
const BUNDLE = honoured(`${INFER_PY} load_inference_bundle_torch (wts.h5.zip params.dill)`);

const PTYCHO_INFERENCE = {
  model: {
    N: BUNDLE,
    gridsize: BUNDLE,
    nFiltersScale: BUNDLE,
    modelType: BUNDLE,
    architecture: BUNDLE,
    fnoModes: BUNDLE,
    fnoWidth: BUNDLE,
    fnoBlocks: BUNDLE,
    fnoCnnBlocks: BUNDLE,
    learnedInputChannels: BUNDLE,
    maxHiddenChannels: BUNDLE,
    resnetWidth: BUNDLE,
    fnoInputTransform: BUNDLE,
    generatorOutputMode: BUNDLE,
    ampActivation: BUNDLE,
    objectBig: BUNDLE,
    probeBig: BUNDLE,
    probeMask: flag(INFER_PY, ["--probe-mask", "--no-probe-mask"], false, {
      requirement:
        'false unless execution.patchWeighting is "uniform" (the barycentric path has no probe mask)',
      check: (v, c) => v === false || uniformRoute(c),
    }),
    probeMaskSigma: flag(INFER_PY, "--probe-mask-sigma", 1),
    probeMaskDiameter: flag(INFER_PY, "--probe-mask-diameter", null),
    padObject: BUNDLE,
    probeScale: BUNDLE,
    gaussianSmoothingSigma: BUNDLE,
  },
  inference: {
    modelPath: flag(INFER_PY, "--model_path", null),
    testDataFile: flag(INFER_PY, "--test_data", null),
    nGroups: flag(INFER_PY, "--n_images", null, {
      // Uniform weighting: upstream's default is 32 groups, so "every position" cannot be asked for.
      // Probe weighting takes the barycentric path, which always uses every position.
      render: (v, c) =>
        uniformRoute(c) ? (v === null ? null : ["--n_images", String(v)]) : v === null ? [] : null,
      requirement:
        'a number with execution.patchWeighting "uniform" (upstream would use 32 groups for null), null (every position) with "probe" (the barycentric path always uses the full scan)',
      check: (v, c) => (uniformRoute(c) ? v !== null : v === null),
    }),
    nSubsample: upstream(null, "create_inference_payload: not set"),
    subsampleSeed: upstream(null, "create_inference_payload: not set"),
    neighborCount: upstream(4, "create_inference_payload: neighbor_count 4"),
    enableOversampling: upstream(false, TF),
    neighborPoolSize: upstream(null, TF),
    backend: upstream("pytorch", "to_inference_config: always pytorch"),
    debug: upstream(false, "to_inference_config: False"),
    outputDir: flag(INFER_PY, "--output_dir", null),
  },
  execution: {
    computeThreads: THREADS,
    accelerator: flag(INFER_PY, "--accelerator", "auto"),
    devices: refused(TRAINING_ONLY),
    strategy: refused(TRAINING_ONLY),
    precision: refused(TRAINING_ONLY),
    deterministic: refused(TRAINING_ONLY),
    seed: refused(TRAINING_ONLY),
    numWorkers: flag(INFER_PY, "--num-workers", 0),
    pinMemory: upstream(false, "PyTorchExecutionConfig default"),
    persistentWorkers: refused(TRAINING_ONLY),
    prefetchFactor: refused(TRAINING_ONLY),
    optimizer: refused(TRAINING_ONLY),
    learningRate: refused(TRAINING_ONLY),
    momentum: refused(TRAINING_ONLY),
    weightDecay: refused(TRAINING_ONLY),
    adamBeta1: refused(TRAINING_ONLY),
    adamBeta2: refused(TRAINING_ONLY),
    scheduler: refused(TRAINING_ONLY),
    lrGamma: refused(TRAINING_ONLY),
    lrMilestones: refused(TRAINING_ONLY),
    lrMilestoneFactor: refused(TRAINING_ONLY),
    lrWarmupEpochs: refused(TRAINING_ONLY),
    lrMinRatio: refused(TRAINING_ONLY),
    plateauFactor: refused(TRAINING_ONLY),
    plateauPatience: refused(TRAINING_ONLY),
    plateauMinLr: refused(TRAINING_ONLY),
    plateauThreshold: refused(TRAINING_ONLY),
    gradientClipVal: refused(TRAINING_ONLY),
    gradientClipAlgorithm: refused(TRAINING_ONLY),
    accumulateGradBatches: refused(TRAINING_ONLY),
    enableCheckpointing: refused(TRAINING_ONLY),
    checkpointSaveTopK: refused(TRAINING_ONLY),
    checkpointMonitor: refused(TRAINING_ONLY),
    checkpointMode: refused(TRAINING_ONLY),
    earlyStopPatience: refused(TRAINING_ONLY),
    checkValEveryNEpoch: refused(TRAINING_ONLY),
    logger: refused(TRAINING_ONLY),
    mlflowTrackingUri: refused(TRAINING_ONLY),
    enableProgressBar: flag(INFER_PY, "--quiet", true, {
      render: (v) => (v === false ? ["--quiet"] : v === true ? [] : null),
    }),
    inferenceBatchSize: flag(INFER_PY, "--inference-batch-size", null),
    middleTrim: onlyValues([0], "Not implemented upstream (PyTorchExecutionConfig: middle_trim unused)."),
    patchWeighting: flag(INFER_PY, "--patch-weighting", "uniform"),
    padEval: onlyValues([false], "Not implemented upstream (PyTorchExecutionConfig: pad_eval unused)."),
  },
} as const satisfies SupportTable<InferencePayloadConfig, PtychoSupport>;

/** The `ptycho-torch` dialect, per payload kind. */
export const PTYCHO_TORCH_SUPPORT = { training: PTYCHO_TRAINING, inference: PTYCHO_INFERENCE } as const;

type Table = Readonly<Record<string, Readonly<Record<string, PtychoSupport>>>>;
const tableOf = (kind: AnyPayload["kind"]): Table => PTYCHO_TORCH_SUPPORT[kind] as unknown as Table;

export const isFlag = (entry: PtychoSupport): entry is Flag => "flags" in entry;
export const isUpstream = (entry: PtychoSupport): entry is Upstream => "effective" in entry;

/**
 * What upstream's program uses for each setting without a flag, for a payload resolved without them
 * (added at the `inferred` level for fields nobody set).
 */
export function ptychoTorchValues(kind: AnyPayload["kind"], config: Config): LayerEntry[] {
  const program = kind === "training" ? "ptycho_torch.train" : "ptycho_torch.inference";
  const out: LayerEntry[] = [];
  for (const [section, entries] of Object.entries(tableOf(kind))) {
    for (const [key, entry] of Object.entries(entries)) {
      if (!isUpstream(entry)) continue;
      out.push({
        path: `${section}.${key}`,
        value: entry.effective(config),
        origin: {
          kind: "inferred",
          from: `what upstream's ${program} uses when the flag is absent (${entry.from})`,
        },
      });
    }
  }
  return out;
}

/** The flag entries of a payload kind, by path. */
export function ptychoTorchFlags(kind: AnyPayload["kind"]): ReadonlyMap<string, Flag> {
  const out = new Map<string, Flag>();
  // The job's own section first: upstream's inference CLI is chosen by argv[1] being --model_path.
  const table = tableOf(kind);
  const order = [kind, "model", "execution"].map((s) => [s, table[s] ?? {}] as const);
  for (const [section, entries] of order)
    for (const [key, entry] of Object.entries(entries))
      if (isFlag(entry)) out.set(`${section}.${key}`, entry);
  return out;
}

/** Every entry of a payload kind's table, by path. */
export function ptychoTorchEntries(kind: AnyPayload["kind"]): ReadonlyMap<string, PtychoSupport> {
  const out = new Map<string, PtychoSupport>();
  for (const [section, entries] of Object.entries(tableOf(kind)))
    for (const [key, entry] of Object.entries(entries)) out.set(`${section}.${key}`, entry);
  return out;
}

/** What `<command> --help` says the program accepts: its flags and, where listed, their choices. */
export interface ProgramSurface {
  readonly flags: ReadonlySet<string>;
  readonly choices: ReadonlyMap<string, readonly string[]>;
}

/** Reads flags (`--x`) and argparse choices (`--x {a,b}`) from a help text. */
export function parseHelp(help: string): ProgramSurface {
  const flags = new Set<string>();
  for (const m of help.matchAll(/(?:^|[\s,[(])(--[A-Za-z0-9][\w-]*)/g)) flags.add(m[1]!);
  const choices = new Map<string, readonly string[]>();
  for (const m of help.matchAll(/(--[A-Za-z0-9][\w-]*)[ =]\{([^}]+)\}/g))
    choices.set(m[1]!, m[2]!.split(","));
  return { flags, choices };
}

/** argv words for the `ptycho-torch` dialect, for the flags the program offers. */
export function renderPtychoTorch(payload: AnyPayload, surface: ProgramSurface): string[] {
  const config = payload.config as unknown as Config;
  const argv: string[] = [];
  for (const [path, entry] of ptychoTorchFlags(payload.kind)) {
    if (!entry.flags.every((f) => surface.flags.has(f))) continue;
    const [section, key] = path.split(".") as [string, string];
    const words = entry.render(config[section]?.[key], config);
    if (words) argv.push(...words);
  }
  return argv;
}
