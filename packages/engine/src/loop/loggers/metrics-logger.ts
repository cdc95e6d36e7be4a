// What every metrics logger is: the contract, and the checks and writes the loggers share.
import { renameSync, writeFileSync } from "node:fs";
import type { Logger } from "@trainkit/execution-config";
import { LoopError } from "../errors.ts";

/** The metric loggers the engine writes itself (`mlflow` needs a tracking client: not here). */
export type LoggerKind = Exclude<Logger, "mlflow">;

/** A metrics logger. Calls are synchronous: each `log` is on disk when it returns. */
export interface MetricsLogger {
  readonly kind: LoggerKind;
  /** The version directory (`<dir>/lightning_logs/version_<n>`), or null for `none`. */
  readonly versionDir: string | null;
  /** One row / event: the metrics plus `epoch` and `step`. */
  log(metrics: Readonly<Record<string, number>>, step: number, epoch: number): void;
  /** Flushes and closes; later `log` calls throw. Idempotent. */
  close(): void;
}

export function writeAtomicSync(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

export function checkLogArgs(step: number, epoch: number): void {
  if (!Number.isSafeInteger(step) || step < 0) {
    throw new LoopError("INVALID_OPTION", `logger.log: step must be a non-negative integer, got ${step}.`);
  }
  if (!Number.isSafeInteger(epoch) || epoch < 0) {
    throw new LoopError("INVALID_OPTION", `logger.log: epoch must be a non-negative integer, got ${epoch}.`);
  }
}

export function closedError(kind: LoggerKind): LoopError {
  return new LoopError("INVALID_OPTION", `logger (${kind}): log() after close().`);
}
