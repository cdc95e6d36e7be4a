import { codedErrorGuard } from "@trainkit/config-meta";
/** What can go wrong while gathering configuration, before or beside validation. */
export type FactoryErrorCode =
  | "SOURCE_NOT_FOUND"
  | "SOURCE_UNREADABLE"
  | "SOURCE_MALFORMED"
  | "SOURCE_TOO_LARGE"
  | "DATA_NOT_FOUND"
  | "DATA_INVALID"
  | "MODEL_NOT_FOUND"
  | "LEGACY_ALREADY_BRIDGED"
  | "LEGACY_KEY_MISSING"
  | "PAYLOAD_KIND_MISMATCH"
  | "PAYLOAD_INCOMPLETE"
  | "PAYLOAD_SHA256_MISMATCH"
  | "AUDIT_MISMATCH"
  | "SECRET_MISSING";

/** A problem with a source, a data file or the legacy store. Validation problems are `ConfigError`s. */
export class FactoryError extends Error {
  override readonly name = "FactoryError";
  readonly code: FactoryErrorCode;

  constructor(code: FactoryErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Type guard for `FactoryError`, optionally of one code; works across package copies. */
export const isFactoryError: (value: unknown, code?: FactoryErrorCode) => value is FactoryError =
  codedErrorGuard<FactoryError>("FactoryError");
