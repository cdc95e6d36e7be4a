import { SingleBar } from "cli-progress";
import { LoopError } from "./errors.ts";

export interface ProgressOptions {
  /** `enableProgressBar`: when false, every method is a no-op and nothing is written. */
  readonly enabled: boolean;
  readonly nepochs: number;
  /** Optimizer steps (batches) per epoch. */
  readonly stepsPerEpoch: number;
  /** Where the bar is drawn. Default `process.stderr`; never stdout, which belongs to the program's output. */
  readonly stream?: NodeJS.WritableStream;
  /**
   * Draw even when the stream is not a terminal (one line per redraw, as cli-progress's
   * `noTTYOutput`). Default false: the architecture infers the bar from a TTY upstream of here.
   */
  readonly forceOutput?: boolean;
  /** Seconds between redraws when not a terminal. Default 2. */
  readonly nonTtyIntervalSeconds?: number;
  /** Epoch the run starts at (a resumed run). Default 0. */
  readonly startEpoch?: number;
}

/** A training progress bar: one bar over the whole run, showing epoch, step, loss and ETA. */
export interface TrainingProgress {
  readonly enabled: boolean;
  /** Marks the start of `epoch` (0-based). */
  startEpoch(epoch: number): void;
  /** After `step` (1-based within the epoch) batches; `loss` shown when given. */
  update(step: number, values?: { readonly loss?: number }): void;
  /** Draws the final state and releases the terminal. Idempotent. */
  stop(): void;
}

const NOOP: TrainingProgress = { enabled: false, startEpoch() {}, update() {}, stop() {} };

function formatLoss(loss: number | undefined): string {
  if (loss === undefined) return "-";
  if (!Number.isFinite(loss)) return String(loss);
  const abs = Math.abs(loss);
  return abs !== 0 && (abs < 1e-3 || abs >= 1e5) ? loss.toExponential(3) : loss.toFixed(4);
}

/** A progress bar on stderr (or `options.stream`) with cli-progress, or a no-op when not enabled. */
export function createProgress(options: ProgressOptions): TrainingProgress {
  if (!options.enabled) return NOOP;
  const { nepochs, stepsPerEpoch } = options;
  for (const [name, v] of [
    ["nepochs", nepochs],
    ["stepsPerEpoch", stepsPerEpoch],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new LoopError("INVALID_OPTION", `progress: ${name} must be a positive integer, got ${v}.`);
    }
  }
  const stream = options.stream ?? process.stderr;
  const bar = new SingleBar({
    stream,
    format: "epoch {epochLabel} |{bar}| step {stepLabel} | loss {loss} | ETA {eta_formatted}",
    noTTYOutput: options.forceOutput ?? false,
    notTTYSchedule: (options.nonTtyIntervalSeconds ?? 2) * 1000,
    hideCursor: false,
    clearOnComplete: false,
    etaBuffer: Math.max(10, stepsPerEpoch),
    barsize: 30,
  });
  let epoch = options.startEpoch ?? 0;
  let step = 0;
  let loss: number | undefined;
  let started = false;
  let stopped = false;
  const payload = () => ({
    epochLabel: `${epoch + 1}/${nepochs}`,
    stepLabel: `${step}/${stepsPerEpoch}`,
    loss: formatLoss(loss),
  });
  const value = (): number => Math.min(nepochs * stepsPerEpoch, epoch * stepsPerEpoch + step);
  const ensureStarted = (): void => {
    if (started || stopped) return;
    started = true;
    bar.start(nepochs * stepsPerEpoch, value(), payload());
  };
  return {
    enabled: true,
    startEpoch(e) {
      epoch = e;
      step = 0;
      ensureStarted();
      if (!stopped) bar.update(value(), payload());
    },
    update(s, values) {
      step = s;
      if (values?.loss !== undefined) loss = values.loss;
      ensureStarted();
      if (!stopped) bar.update(value(), payload());
    },
    stop() {
      if (stopped) return;
      stopped = true;
      if (started) bar.stop();
    },
  };
}
