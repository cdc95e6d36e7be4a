// Lightning's EarlyStopping: stop when the monitored metric has not improved for `patience` epochs.
import { LoopError } from "./errors.ts";
import type { MonitorMode } from "./monitor.ts";

export interface EarlyStoppingOptions {
  /** `earlyStopPatience`: epochs without improvement before stopping. */
  readonly patience: number;
  readonly mode: MonitorMode;
  /** Smallest change that counts as an improvement. Default 0 (any strict improvement). */
  readonly minDelta?: number;
}

export interface EarlyStoppingDecision {
  readonly stop: boolean;
  readonly improved: boolean;
  /** Why it stops, one sentence; null when it does not. */
  readonly reason: string | null;
}

export interface EarlyStoppingState {
  readonly best: number | null;
  readonly wait: number;
  readonly stoppedEpoch: number | null;
}

export interface EarlyStopping {
  /** Best metric so far (null before the first finite one). */
  readonly best: number | null;
  /** Epochs since the last improvement. */
  readonly wait: number;
  /** The epoch at which it decided to stop, or null. */
  readonly stoppedEpoch: number | null;
  /** Feeds the monitored metric at the end of `epoch`; returns whether to stop now. */
  update(metric: number, epoch: number): EarlyStoppingDecision;
  getState(): EarlyStoppingState;
  setState(state: EarlyStoppingState): void;
}

/**
 * Lightning's `EarlyStopping`: an epoch improves when its metric beats the best by more than
 * `minDelta`; otherwise the wait count grows, and training stops when it reaches `patience`.
 * A non-finite metric stops at once (Lightning's `check_finite`).
 */
export function createEarlyStopping(options: EarlyStoppingOptions): EarlyStopping {
  const { patience, mode } = options;
  const minDelta = Math.abs(options.minDelta ?? 0);
  if (!Number.isInteger(patience) || patience < 1) {
    throw new LoopError("INVALID_OPTION", `earlyStopPatience: must be a positive integer, got ${patience}.`);
  }
  let best: number | null = null;
  let wait = 0;
  let stoppedEpoch: number | null = null;
  return {
    get best() {
      return best;
    },
    get wait() {
      return wait;
    },
    get stoppedEpoch() {
      return stoppedEpoch;
    },
    update(metric, epoch) {
      if (!Number.isFinite(metric)) {
        stoppedEpoch = epoch;
        return {
          stop: true,
          improved: false,
          reason: `the monitored metric is ${metric} at epoch ${epoch}; stopping (a non-finite loss does not recover).`,
        };
      }
      const improved =
        best === null || (mode === "min" ? metric < best - minDelta : metric > best + minDelta);
      if (improved) {
        best = metric;
        wait = 0;
        return { stop: false, improved, reason: null };
      }
      wait += 1;
      if (wait >= patience) {
        stoppedEpoch = epoch;
        return {
          stop: true,
          improved,
          reason: `no improvement for ${wait} epochs (best ${best}); earlyStopPatience is ${patience}.`,
        };
      }
      return { stop: false, improved, reason: null };
    },
    getState() {
      return { best, wait, stoppedEpoch };
    },
    setState(state) {
      const ok =
        state !== null &&
        typeof state === "object" &&
        (state.best === null || Number.isFinite(state.best)) &&
        Number.isInteger(state.wait) &&
        state.wait >= 0 &&
        (state.stoppedEpoch === null || Number.isInteger(state.stoppedEpoch));
      if (!ok) {
        throw new LoopError(
          "INVALID_STATE",
          `early-stopping state: expected { best, wait, stoppedEpoch }, got ${JSON.stringify(state)}.`,
        );
      }
      best = state.best;
      wait = state.wait;
      stoppedEpoch = state.stoppedEpoch;
    },
  };
}
