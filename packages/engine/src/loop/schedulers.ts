import type { ExecutionConfig, Scheduler } from "@trainkit/execution-config";
import { LoopError } from "./errors.ts";

/** The execution fields a scheduler reads, plus the number of epochs of the run. */
export type SchedulerOptions = Pick<
  ExecutionConfig,
  | "scheduler"
  | "learningRate"
  | "lrGamma"
  | "lrMilestones"
  | "lrMilestoneFactor"
  | "lrWarmupEpochs"
  | "lrMinRatio"
  | "plateauFactor"
  | "plateauPatience"
  | "plateauMinLr"
  | "plateauThreshold"
  | "checkpointMode"
> & {
  /** Epochs of the run (`training.nepochs`): the end of the WarmupCosine decay. */
  readonly nepochs: number;
};

/** JSON-serialisable scheduler state. */
export interface SchedulerState {
  readonly kind: Scheduler;
  /** The epoch (0-based) whose learning rate is `lr`. */
  readonly epoch: number;
  readonly lr: number;
  /** Plateau kinds: the best metric so far (null before the first step). */
  readonly best: number | null;
  /** Plateau kinds: consecutive epochs without improvement. */
  readonly badEpochs: number;
  /** Adaptive: consecutive improving epochs. */
  readonly goodEpochs: number;
}

/**
 * A per-epoch learning-rate schedule. Call `lr` for the current epoch, then `step(metric)` once at
 * the end of every epoch (the monitored metric is required by ReduceLROnPlateau and Adaptive and
 * ignored by the others).
 */
export interface LrScheduler {
  readonly kind: Scheduler;
  /** The current epoch, 0-based. */
  readonly epoch: number;
  /** The learning rate of the current epoch. */
  readonly lr: number;
  /** Whether `step` needs the monitored metric. */
  readonly needsMetric: boolean;
  /** Ends the current epoch; returns the learning rate of the next one. */
  step(metric?: number): number;
  /**
   * Ends an epoch that had no monitored metric (validation every n epochs): the metric-driven kinds
   * keep their rate and counts, as Lightning skips a plateau scheduler without its metric; the
   * others step as usual.
   */
  stepUnmonitored(): number;
  getState(): SchedulerState;
  setState(state: SchedulerState): void;
}

const PLATEAU_KINDS: readonly Scheduler[] = ["ReduceLROnPlateau", "Adaptive"];
/** Changes smaller than this are ignored (PyTorch ReduceLROnPlateau `eps`). */
const LR_EPS = 1e-8;

function invalid(message: string): never {
  throw new LoopError("INVALID_OPTION", message);
}

/**
 * The learning rate of `epoch` (0-based) for the closed-form schedules:
 * - Default: lr0;
 * - Exponential: lr0 * lrGamma^epoch;
 * - MultiStage: lr0 * lrMilestoneFactor^(number of milestones <= epoch) (PyTorch MultiStepLR);
 * - WarmupCosine: with W = lrWarmupEpochs, T = nepochs and lrMin = lr0 * lrMinRatio,
 *   lr0 * (epoch + 1) / W while epoch < W (no epoch at lr 0), then
 *   lrMin + (lr0 - lrMin) * (1 + cos(pi * p)) / 2 with p = min(1, (epoch - W) / max(1, T - W)),
 *   so the cosine starts at lr0 after the warm-up and reaches lrMin at epoch T.
 * Throws for the plateau kinds, whose rate depends on the metric history.
 */
export function scheduledLr(options: SchedulerOptions, epoch: number): number {
  const lr0 = options.learningRate;
  switch (options.scheduler) {
    case "Default":
      return lr0;
    case "Exponential":
      return lr0 * options.lrGamma ** epoch;
    case "MultiStage": {
      const passed = options.lrMilestones.filter((m) => m <= epoch).length;
      return lr0 * options.lrMilestoneFactor ** passed;
    }
    case "WarmupCosine": {
      const W = options.lrWarmupEpochs;
      if (epoch < W) return (lr0 * (epoch + 1)) / W;
      const lrMin = lr0 * options.lrMinRatio;
      const p = Math.min(1, (epoch - W) / Math.max(1, options.nepochs - W));
      return lrMin + ((lr0 - lrMin) * (1 + Math.cos(Math.PI * p))) / 2;
    }
    case "ReduceLROnPlateau":
    case "Adaptive":
      return invalid(`scheduledLr: "${options.scheduler}" depends on the metric; use createScheduler.`);
    default:
      return invalid(`scheduler: unknown kind ${JSON.stringify(options.scheduler satisfies never)}.`);
  }
}

/**
 * A scheduler for `options.scheduler`. The two metric-driven kinds:
 *
 * - **ReduceLROnPlateau** (PyTorch semantics, `threshold_mode="rel"`, cooldown 0): an epoch improves
 *   when its metric beats the best by more than `plateauThreshold * |best|` in the direction of
 *   `checkpointMode`; after more than `plateauPatience` consecutive epochs without improvement the
 *   rate becomes max(lr * plateauFactor, plateauMinLr) and the count restarts. (|best| rather than
 *   PyTorch's signed best, so a negative loss such as a Poisson NLL is handled the same way.)
 *   A non-finite metric never improves.
 * - **Adaptive** (trainkit's definition; upstream names it but never defines it): ReduceLROnPlateau
 *   that also recovers. With the same counting rule mirrored, after more than `plateauPatience`
 *   consecutive improving epochs the rate becomes min(lr / plateauFactor, lr0) and that count
 *   restarts; so it backs off on a plateau and climbs back, never above the initial rate, while
 *   the metric keeps improving.
 */
export function createScheduler(options: SchedulerOptions): LrScheduler {
  const kind = options.scheduler;
  const lr0 = options.learningRate;
  if (!(lr0 > 0) || !Number.isFinite(lr0)) invalid(`learningRate: must be a finite number > 0, got ${lr0}.`);
  if (!Number.isInteger(options.nepochs) || options.nepochs < 1) {
    invalid(`nepochs: must be a positive integer, got ${options.nepochs}.`);
  }
  const plateau = PLATEAU_KINDS.includes(kind);
  if (!plateau) scheduledLr(options, 0); // validates the kind
  const maximize = options.checkpointMode === "max";
  const { plateauFactor: factor, plateauPatience: patience, plateauMinLr: minLr } = options;
  const threshold = options.plateauThreshold;

  let epoch = 0;
  let lr = plateau ? lr0 : scheduledLr(options, 0);
  let best: number | null = null;
  let badEpochs = 0;
  let goodEpochs = 0;

  const improves = (metric: number): boolean => {
    if (!Number.isFinite(metric)) return false;
    if (best === null) return true;
    const margin = Math.abs(best) * threshold;
    return maximize ? metric > best + margin : metric < best - margin;
  };

  return {
    kind,
    needsMetric: plateau,
    get epoch() {
      return epoch;
    },
    get lr() {
      return lr;
    },
    stepUnmonitored(): number {
      epoch += 1;
      if (!plateau) lr = scheduledLr(options, epoch);
      return lr;
    },
    step(metric?: number): number {
      epoch += 1;
      if (!plateau) {
        lr = scheduledLr(options, epoch);
        return lr;
      }
      if (metric === undefined) {
        throw new LoopError(
          "MISSING_METRIC",
          `scheduler "${kind}": step() needs the monitored metric at the end of every epoch (epoch ${epoch - 1} had none).`,
        );
      }
      if (improves(metric)) {
        best = metric;
        badEpochs = 0;
        goodEpochs += 1;
      } else {
        badEpochs += 1;
        goodEpochs = 0;
      }
      if (badEpochs > patience) {
        const reduced = Math.max(lr * factor, minLr);
        if (lr - reduced > LR_EPS) lr = reduced;
        badEpochs = 0;
      } else if (kind === "Adaptive" && goodEpochs > patience) {
        const raised = Math.min(lr / factor, lr0);
        if (raised - lr > LR_EPS) lr = raised;
        goodEpochs = 0;
      }
      return lr;
    },
    getState(): SchedulerState {
      return { kind, epoch, lr, best, badEpochs, goodEpochs };
    },
    setState(state: SchedulerState): void {
      const count = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0;
      const valid =
        state !== null &&
        typeof state === "object" &&
        state.kind === kind &&
        count(state.epoch) &&
        typeof state.lr === "number" &&
        state.lr > 0 &&
        Number.isFinite(state.lr) &&
        (state.best === null || Number.isFinite(state.best)) &&
        count(state.badEpochs) &&
        count(state.goodEpochs);
      if (!valid) {
        throw new LoopError(
          "INVALID_STATE",
          `scheduler state: expected a "${kind}" state { kind, epoch, lr, best, badEpochs, goodEpochs }, got ${JSON.stringify(state)}.`,
        );
      }
      epoch = state.epoch;
      lr = state.lr;
      best = state.best;
      badEpochs = state.badEpochs;
      goodEpochs = state.goodEpochs;
    },
  };
}
