import { codedErrorGuard } from "@trainkit/config-meta/coded-error";
import type { ContractFinding } from "./internal/findings.ts";

/** What went wrong. A closed set: `switch` over it exhaustively. */
export type DataErrorCode =
  /** The path does not exist. */
  | "FILE_NOT_FOUND"
  /** The path is a device, FIFO, socket or other non-regular file: refused without reading it. */
  | "NOT_A_FILE"
  /** The file exists but could not be read (a directory, no permission, an I/O error). */
  | "READ_FAILED"
  /** `saveNpz` could not write the file (the folder is missing or not writable). */
  | "WRITE_FAILED"
  /** The file is not a zip archive, so not an `.npz`. */
  | "NOT_A_ZIP"
  /** The file ends before its zip directory or before a member's data: an interrupted write or download. */
  | "TRUNCATED"
  /** The zip structure or a member's compressed data is damaged (bad signature, CRC mismatch, bad deflate data). */
  | "CORRUPT_ZIP"
  /** A zip feature numpy never writes: encryption, multi-disk archives, compression other than stored/deflate. */
  | "UNSUPPORTED_ZIP"
  /** An `.npy` header is malformed (magic, version, or header dictionary). */
  | "BAD_HEADER"
  /** An `.npy` header claims a shape whose size differs from the bytes the member holds. */
  | "SIZE_MISMATCH"
  /** An array is larger than the configured `maxBytes`. */
  | "TOO_LARGE"
  /** A dtype this package cannot represent (structured, datetime, float128, ...). */
  | "UNSUPPORTED_DTYPE"
  /** A pickled object array (`|O`): refused, because unpickling runs arbitrary code. */
  | "PICKLED"
  /** A requested key is not in the file. */
  | "MISSING_KEY"
  /** `saveNpz` was given an array whose data, shape or dtype do not agree, or a bad key. */
  | "INVALID_ARRAY"
  /** `_metadata` is not a JSON string, or a value in it is not valid. */
  | "BAD_METADATA"
  /** An array has the wrong number of dimensions for its use (e.g. a 3-D `probeGuess`). */
  | "BAD_SHAPE"
  /** `probeGuess` is 2-D but not square. */
  | "NON_SQUARE_PROBE"
  /** `assertDataContract` found errors; they are in `findings`. */
  | "CONTRACT_VIOLATION"
  /** A model bundle (`model.zip`) lacks or has a malformed manifest, payload or legacy params. */
  | "BAD_BUNDLE"
  /** Options of a function (e.g. `simulateDataset`) are missing, unknown, or out of range. */
  | "INVALID_OPTIONS";

export interface DataErrorOptions {
  /** The file as the caller named it. */
  readonly file?: string | undefined;
  /** The array key inside the `.npz` (without `.npy`). */
  readonly key?: string | undefined;
  readonly cause?: unknown;
  /** Only for `CONTRACT_VIOLATION`: every finding, errors first. */
  readonly findings?: readonly ContractFinding[];
}

/** Any problem reading, writing or checking data files. Messages are one line and say how to fix it. */
export class DataError extends Error {
  override readonly name = "DataError";
  readonly code: DataErrorCode;
  /** The file as the caller named it, when the error is about a file. */
  readonly file: string | undefined;
  /** The array key, when the error is about one array. */
  readonly key: string | undefined;
  /** The contract findings behind a `CONTRACT_VIOLATION`; empty for other codes. */
  readonly findings: readonly ContractFinding[];

  constructor(code: DataErrorCode, message: string, options: DataErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.file = options.file;
    this.key = options.key;
    this.findings = options.findings ?? [];
  }
}

/** Type guard for `DataError`, optionally of one code; works across package copies. */
export const isDataError: (value: unknown, code?: DataErrorCode) => value is DataError =
  codedErrorGuard<DataError>("DataError");
