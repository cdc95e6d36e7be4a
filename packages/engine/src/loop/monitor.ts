// Which metric ranks checkpoints and drives early stopping: the configured `checkpointMonitor`
// mapped to a metric the engine really logs, and whether lower or higher is better.
import type { ExecutionConfig } from "@trainkit/execution-config";
import { LoopError } from "./errors.ts";

/** Whether a lower or a higher monitored metric is better (the schema's `checkpointMode`). */
export type MonitorMode = ExecutionConfig["checkpointMode"];

export interface MonitorContext {
  /** Whether the run has validation data. */
  readonly hasValidation: boolean;
  /** Every metric name the engine logs per epoch. */
  readonly metricNames: readonly string[];
}

export interface ResolvedMonitor {
  /** The metric name to rank checkpoints and stop on. */
  readonly name: string;
  /** A warning when the configured name was replaced (never printed here). */
  readonly warning: string | null;
}

/** `val_...` <-> `train_...` (`val_loss`, `poisson_val_loss`, `val_mae` ...). */
function toTraining(name: string): string | null {
  if (name.startsWith("val_")) return `train_${name.slice(4)}`;
  if (name.includes("_val_")) return name.replace("_val_", "_train_");
  if (name.endsWith("_val")) return `${name.slice(0, -4)}_train`;
  return null;
}

/**
 * Maps the configured `checkpointMonitor` to a metric the engine really logs, as upstream does
 * (reference 6.7):
 * - a name the engine logs is used as is (when it is a validation metric, only with validation data);
 * - `val_loss` with validation data is the engine's validation loss: `val_loss` itself, else the one
 *   logged name ending in `_val_loss` (upstream's `poisson_val_loss`);
 * - a validation name without validation data falls back to its training counterpart
 *   (`val_loss` -> `train_loss`) with a warning;
 * - anything else is an `UNKNOWN_MONITOR` error listing the available names.
 */
export function resolveMonitor(configured: string, context: MonitorContext): ResolvedMonitor {
  const names = new Set(context.metricNames);
  const available = [...names].sort().join(", ") || "none";
  const isValidation = toTraining(configured) !== null;
  if (context.hasValidation || !isValidation) {
    if (names.has(configured)) return { name: configured, warning: null };
    if (context.hasValidation && configured === "val_loss") {
      const candidates = [...names].filter((n) => n.endsWith("_val_loss")).sort();
      if (candidates.length === 1) return { name: candidates[0]!, warning: null };
    }
  } else {
    const training = toTraining(configured)!;
    let fallback: string | undefined = names.has(training) ? training : undefined;
    if (fallback === undefined && configured === "val_loss") {
      const candidates = [...names].filter((n) => n.endsWith("_train_loss")).sort();
      if (candidates.length === 1) fallback = candidates[0];
    }
    if (fallback !== undefined) {
      return {
        name: fallback,
        warning: `checkpointMonitor "${configured}" needs validation data, which this run has none of; monitoring "${fallback}" instead (pass validation data or set checkpointMonitor to silence this).`,
      };
    }
  }
  throw new LoopError(
    "UNKNOWN_MONITOR",
    `checkpointMonitor: "${configured}" is not a metric this run logs${isValidation && !context.hasValidation ? " (and there is no validation data)" : ""}; available: ${available}.`,
  );
}
