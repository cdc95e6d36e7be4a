import { codedErrorGuard } from "@trainkit/config-meta";
import type { UnsupportedSetting } from "./capabilities.ts";

export type LaunchErrorCode =
  | "RUN_DIR_NOT_EMPTY"
  | "NOTHING_TO_RESUME"
  | "UNSUPPORTED_SETTINGS"
  | "RUN_DIR_UNWRITABLE"
  | "MISSING_COMMAND"
  | "PROGRAM_NOT_RUNNABLE"
  | "PROBE_FAILED";

/** A run that cannot start. All codes are user errors (exit code 2). */
export class LaunchError extends Error {
  override readonly name = "LaunchError";
  readonly code: LaunchErrorCode;
  readonly unsupported: readonly UnsupportedSetting[];

  constructor(
    code: LaunchErrorCode,
    message: string,
    options: { cause?: unknown; unsupported?: readonly UnsupportedSetting[] } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.unsupported = options.unsupported ?? [];
  }
}

/** Type guard for `LaunchError`, optionally of one code; works across package copies. */
export const isLaunchError: (value: unknown, code?: LaunchErrorCode) => value is LaunchError =
  codedErrorGuard<LaunchError>("LaunchError");
