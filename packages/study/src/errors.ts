import { codedErrorGuard } from "@trainkit/config-meta";

/** Closed set of study error codes. All are user errors (exit code 2) unless noted. */
export type StudyErrorCode =
  | "SPEC_NOT_FOUND"
  | "SPEC_MALFORMED"
  | "SPEC_INVALID"
  | "AXIS_PATH_UNKNOWN"
  | "TEMPLATE_UNKNOWN"
  | "DATA_MISSING"
  | "JOB_INVALID"
  | "FLAG_COLLIDES"
  | "SELECTION_EMPTY"
  | "UNSUPPORTED_SETTINGS"
  | "JOURNAL_CORRUPT"
  | "JOURNAL_FOREIGN"
  | "STUDY_LOCKED"
  | "SPEC_CHANGED"
  | "OUTPUT_DIR_TAKEN"
  | "NOTHING_TO_RESUME"
  | "NOT_A_STUDY";

/** A study that cannot be planned, run or read. */
export class StudyError extends Error {
  override readonly name = "StudyError";
  readonly code: StudyErrorCode;

  constructor(code: StudyErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** Type guard for `StudyError`, optionally of one code; works across package copies. */
export const isStudyError: (value: unknown, code?: StudyErrorCode) => value is StudyError =
  codedErrorGuard<StudyError>("StudyError");
