import { codedErrorGuard } from "@trainkit/config-meta/coded-error";

/** What went wrong in a training-loop building block. A closed set: `switch` over it exhaustively. */
export type LoopErrorCode =
  /** Grouping parameters that cannot produce groups (K < C, too few positions, bad coordinates). */
  | "INVALID_GROUPING"
  /** An optimizer, scheduler, RNG or early-stopping state that does not fit the object it is restored into. */
  | "INVALID_STATE"
  /** An option outside its domain (a negative batch size, a clip value of 0, an unknown kind). */
  | "INVALID_OPTION"
  /** A metric the caller must supply (the monitored one, a plateau scheduler's) is missing. */
  | "MISSING_METRIC"
  /** The configured monitor names no metric the engine produces. */
  | "UNKNOWN_MONITOR"
  /** A checkpoint file or the checkpoint index is damaged or not a trainkit checkpoint. */
  | "BAD_CHECKPOINT"
  /** A saved state (the bundle's weights, a checkpoint before it is named one) is not a trainkit state `.npz` or is damaged. */
  | "BAD_STATE"
  /** A data-preparation worker failed or exited early. */
  | "WORKER_FAILED";

export interface LoopErrorOptions {
  readonly cause?: unknown;
  /** The file the error is about, when it is about one. */
  readonly file?: string | undefined;
}

/** Any problem in the training-loop building blocks. Messages are one line and say how to fix it. */
export class LoopError extends Error {
  override readonly name = "LoopError";
  readonly code: LoopErrorCode;
  /** The file the error is about, when it is about one. */
  readonly file: string | undefined;

  constructor(code: LoopErrorCode, message: string, options: LoopErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.file = options.file;
  }
}

/** Type guard for `LoopError`, optionally of one code; works across package copies. */
export const isLoopError: (value: unknown, code?: LoopErrorCode) => value is LoopError =
  codedErrorGuard<LoopError>("LoopError");
