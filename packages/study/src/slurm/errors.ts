import { codedErrorGuard } from "@trainkit/config-meta";

/**
 * Errors of the Slurm executor. `SLURM_SETTINGS_INVALID`, `SLURM_PATH_UNSAFE`,
 * `SLURM_SUBMIT_REJECTED` and `SLURM_NOTHING_TO_REATTACH` are user errors (exit code 2);
 * `SLURM_UNAVAILABLE` and `SLURM_COMMAND_FAILED` mean the cluster could not be reached or answered
 * with something unexpected.
 */
export type SlurmErrorCode =
  | "SLURM_SETTINGS_INVALID"
  | "SLURM_PATH_UNSAFE"
  | "SLURM_SUBMIT_REJECTED"
  | "SLURM_UNAVAILABLE"
  | "SLURM_COMMAND_FAILED"
  | "SLURM_NOTHING_TO_REATTACH";

export class SlurmError extends Error {
  override readonly name = "SlurmError";
  readonly code: SlurmErrorCode;

  constructor(code: SlurmErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** Type guard for `SlurmError`, optionally of one code; works across package copies. */
export const isSlurmError: (value: unknown, code?: SlurmErrorCode) => value is SlurmError =
  codedErrorGuard<SlurmError>("SlurmError");
