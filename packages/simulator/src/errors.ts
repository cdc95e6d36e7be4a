import { type ConfigIssue, codedErrorGuard, formatIssue } from "@trainkit/config-meta";

/** What went wrong. A closed set: dispatch on it exhaustively. */
export type SimulationErrorCode =
  /** Options of `simulateDataset`, `splitSimulatedDataset` or `writeSimulatedDataset` are unknown, missing or out of range. */
  | "INVALID_OPTIONS"
  /** `writeSimulatedDataset` could not write a file (a missing or read-only folder, a full disk); nothing was left behind. */
  | "WRITE_FAILED";

export interface SimulationErrorOptions {
  /** Only for `INVALID_OPTIONS`: every problem found, each naming its option, value and origin. */
  readonly issues?: readonly ConfigIssue[];
  /** The file, for `WRITE_FAILED`. */
  readonly file?: string;
  readonly cause?: unknown;
}

/** A simulation that cannot be run or written. Messages are one line per problem and say how to fix it. */
export class SimulationError extends Error {
  override readonly name = "SimulationError";
  readonly code: SimulationErrorCode;
  /** The problems behind an `INVALID_OPTIONS` (empty for other codes). */
  readonly issues: readonly ConfigIssue[];
  /** The option of the first issue (e.g. `N`), or undefined. */
  readonly key: string | undefined;
  readonly file: string | undefined;

  constructor(code: SimulationErrorCode, message: string, options: SimulationErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.issues = options.issues ?? [];
    this.key = this.issues[0]?.path.split(".").pop();
    this.file = options.file;
  }
}

/** `INVALID_OPTIONS` for `issues`: one line each (several after a count). */
export function invalidOptions(issues: readonly ConfigIssue[]): SimulationError {
  const lines = issues.map(formatIssue);
  const message =
    lines.length === 1
      ? (lines[0] ?? "")
      : `${lines.length} problems:\n${lines.map((l) => `  - ${l}`).join("\n")}`;
  return new SimulationError("INVALID_OPTIONS", message, { issues });
}

/** Type guard for `SimulationError`, optionally of one code; works across package copies. */
export const isSimulationError: (value: unknown, code?: SimulationErrorCode) => value is SimulationError =
  codedErrorGuard<SimulationError>("SimulationError");
