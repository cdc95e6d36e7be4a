// How a payload reaches an external program. `payload`: the whole payload as a file. `ptycho-torch`:
// the flags of upstream's `python -m ptycho_torch.train` / `ptycho_torch.inference` (reference 6.1,
// 6.2), every mapped value rendered explicitly so the program's own defaults never apply.
import type { AnyPayload } from "@trainkit/factory";

export const DIALECTS = ["payload", "ptycho-torch"] as const;
export type Dialect = (typeof DIALECTS)[number];

/** One payload field as an upstream flag. `render` returns the argv words, or null when it has none. */
interface FlagMapping {
  readonly path: string;
  /** The flag(s) the program must offer for the mapping to be usable. */
  readonly flags: readonly string[];
  readonly render: (value: unknown) => readonly string[] | null;
}

const value =
  (flag: string) =>
  (v: unknown): readonly string[] | null =>
    v === null || v === undefined ? [] : [flag, String(v)];
const pair = (on: string, off: string) => (v: unknown) => (v === true ? [on] : v === false ? [off] : null);

const COMMON: readonly FlagMapping[] = [
  { path: "execution.accelerator", flags: ["--accelerator"], render: value("--accelerator") },
  { path: "execution.numWorkers", flags: ["--num-workers"], render: value("--num-workers") },
  {
    path: "execution.enableProgressBar",
    flags: ["--quiet"],
    render: (v) => (v === false ? ["--quiet"] : v === true ? [] : null),
  },
  {
    path: "model.probeMask",
    flags: ["--probe-mask", "--no-probe-mask"],
    render: pair("--probe-mask", "--no-probe-mask"),
  },
  { path: "model.probeMaskSigma", flags: ["--probe-mask-sigma"], render: value("--probe-mask-sigma") },
  {
    path: "model.probeMaskDiameter",
    flags: ["--probe-mask-diameter"],
    render: value("--probe-mask-diameter"),
  },
];

const TRAINING: readonly FlagMapping[] = [
  { path: "training.trainDataFile", flags: ["--train_data_file"], render: value("--train_data_file") },
  { path: "training.testDataFile", flags: ["--test_data_file"], render: value("--test_data_file") },
  { path: "training.outputDir", flags: ["--output_dir"], render: value("--output_dir") },
  { path: "training.nepochs", flags: ["--max_epochs"], render: value("--max_epochs") },
  { path: "training.nGroups", flags: ["--n_images"], render: value("--n_images") },
  { path: "training.batchSize", flags: ["--batch_size"], render: value("--batch_size") },
  { path: "training.torchLossMode", flags: ["--torch-loss-mode"], render: value("--torch-loss-mode") },
  { path: "model.gridsize", flags: ["--gridsize"], render: value("--gridsize") },
  {
    path: "execution.deterministic",
    flags: ["--deterministic", "--no-deterministic"],
    render: pair("--deterministic", "--no-deterministic"),
  },
  { path: "execution.learningRate", flags: ["--learning-rate"], render: value("--learning-rate") },
  { path: "execution.logger", flags: ["--logger"], render: value("--logger") },
  {
    path: "execution.enableCheckpointing",
    flags: ["--enable-checkpointing", "--disable-checkpointing"],
    render: pair("--enable-checkpointing", "--disable-checkpointing"),
  },
  {
    path: "execution.checkpointSaveTopK",
    flags: ["--checkpoint-save-top-k"],
    render: value("--checkpoint-save-top-k"),
  },
  {
    path: "execution.checkpointMonitor",
    flags: ["--checkpoint-monitor"],
    render: value("--checkpoint-monitor"),
  },
  { path: "execution.checkpointMode", flags: ["--checkpoint-mode"], render: value("--checkpoint-mode") },
  {
    path: "execution.earlyStopPatience",
    flags: ["--early-stop-patience"],
    render: value("--early-stop-patience"),
  },
  { path: "execution.scheduler", flags: ["--scheduler"], render: value("--scheduler") },
  {
    path: "execution.accumulateGradBatches",
    flags: ["--accumulate-grad-batches"],
    render: value("--accumulate-grad-batches"),
  },
  ...COMMON,
];

const INFERENCE: readonly FlagMapping[] = [
  { path: "inference.modelPath", flags: ["--model_path"], render: value("--model_path") },
  { path: "inference.testDataFile", flags: ["--test_data"], render: value("--test_data") },
  { path: "inference.outputDir", flags: ["--output_dir"], render: value("--output_dir") },
  { path: "inference.nGroups", flags: ["--n_images"], render: value("--n_images") },
  {
    path: "execution.inferenceBatchSize",
    flags: ["--inference-batch-size"],
    render: value("--inference-batch-size"),
  },
  ...COMMON,
];

/** The upstream flag mappings of a payload kind. */
export function ptychoTorchMappings(kind: AnyPayload["kind"]): readonly FlagMapping[] {
  return kind === "training" ? TRAINING : INFERENCE;
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
  const config = payload.config as unknown as Record<string, Record<string, unknown>>;
  const argv: string[] = [];
  for (const mapping of ptychoTorchMappings(payload.kind)) {
    if (!mapping.flags.every((f) => surface.flags.has(f))) continue;
    const [section, key] = mapping.path.split(".") as [string, string];
    const words = mapping.render(config[section]?.[key]);
    if (words) argv.push(...words);
  }
  return argv;
}
