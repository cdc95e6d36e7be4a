import { DataError } from "./errors.ts";
import {
  loadMember,
  type NpzArchive,
  readHeader,
  selectMembers,
  withNpz,
  withNpzBytes,
} from "./internal/archive.ts";
import {
  checkDataSize,
  encodeNpyParts,
  type NpyHeader,
  type NpyVersion,
  validateNdArray,
} from "./internal/npy-format.ts";
import { writeZipAtomic, writeZipBytes, type ZipSource } from "./internal/zip-write.ts";
import type { Dtype, NdArray } from "./ndarray.ts";

/** What an `.npy` header says about one array, read without its data. */
export interface ArrayHeader {
  readonly key: string;
  /** `null` when the dtype cannot be loaded (pickled objects, structured, datetime, ...); see `descr`. */
  readonly dtype: Dtype | null;
  /** The dtype as numpy wrote it: `"<f4"`, `">i8"`, `"<U17"`, `"|O"`, or `"<structured>"`. */
  readonly descr: string;
  readonly shape: readonly number[];
  /** Whether the data is stored column-major (it is converted to C order on load). */
  readonly fortranOrder: boolean;
  readonly version: NpyVersion;
  /** Bytes of array data in the file (after decompression). */
  readonly dataBytes: number;
  /** Whether the member is deflated (`np.savez_compressed`) rather than stored (`np.savez`). */
  readonly compressed: boolean;
}

/** The headers of an `.npz`, by key, in archive order. */
export interface NpzHeaders {
  /** The path as the caller gave it. */
  readonly file: string;
  readonly headers: ReadonlyMap<string, ArrayHeader>;
}

/** Loaded arrays of an `.npz`, by key (in archive order, or in the order of `keys`). */
export interface Npz {
  /** The path as the caller gave it (`loadNpz`), or `what` (`decodeNpz`). */
  readonly file: string;
  readonly arrays: ReadonlyMap<string, NdArray>;
}

export interface LoadNpzOptions {
  /** Load only these keys (each must exist); other members are not read or decompressed. */
  readonly keys?: readonly string[];
  /** Largest array, in bytes once decoded, that may be allocated. Default 2 GiB (`DEFAULT_MAX_BYTES`). */
  readonly maxBytes?: number;
}

export interface DecodeNpzOptions extends LoadNpzOptions {
  /** Names the bytes in messages and in errors' `file`, e.g. `"model.zip:weights/weights.npz"`. */
  readonly what: string;
}

export interface ReadNpzHeadersOptions {
  /** Read only these keys' headers (each must exist). */
  readonly keys?: readonly string[];
}

export interface SaveNpzOptions {
  /** Deflate the members, like `np.savez_compressed`. Default false (stored, like `np.savez`). */
  readonly compress?: boolean;
  /**
   * A JSON-serializable value written as `_metadata`: a 0-d `<U` string array that numpy reads with
   * `allow_pickle=False`. Give either this or an `_metadata` array, not both.
   */
  readonly metadata?: unknown;
}

export interface EncodeNpzOptions extends SaveNpzOptions {
  /** Names the arrays in messages and in errors' `file`. Default `"encodeNpz"`. */
  readonly what?: string;
}

/** Arrays to save: a record or a map, key -> array. Keys become `<key>.npy` members. */
export type NpzInput = Readonly<Record<string, NdArray>> | ReadonlyMap<string, NdArray>;

/**
 * Files up to this size are read with one read when every member is loaded (checkpoints are ~7 MB).
 * Larger ones are read member by member, so nothing is allocated before the headers are checked.
 */
const WHOLE_READ_MAX = 64 * 1024 * 1024;

function toArrayHeader(key: string, header: NpyHeader, dataBytes: number, compressed: boolean): ArrayHeader {
  return {
    key,
    dtype: header.parsed.ok ? header.parsed.dtype : null,
    descr: header.descr,
    shape: header.shape,
    fortranOrder: header.fortranOrder,
    version: header.version,
    dataBytes,
    compressed,
  };
}

/**
 * Reads the shapes and dtypes of an `.npz` without reading array data: the zip directory, then only
 * the first bytes of each member. Headers whose size disagrees with the member are SIZE_MISMATCH;
 * pickled or unsupported dtypes are reported with `dtype: null`, not thrown.
 */
export async function readNpzHeaders(file: string, options: ReadNpzHeadersOptions = {}): Promise<NpzHeaders> {
  return withNpz(file, (npz) => headersIn(npz, file, options.keys));
}

/** `readNpzHeaders` on an archive already open (for readers that need more than the headers). */
export async function headersIn(
  npz: NpzArchive,
  file: string,
  keys?: readonly string[],
): Promise<NpzHeaders> {
  const headers = new Map<string, ArrayHeader>();
  for (const [key, entry] of selectMembers(npz, keys)) {
    const header = await readHeader(npz, key, entry);
    const dataBytes = entry.uncompressedSize - header.headerLength;
    headers.set(key, toArrayHeader(key, header, dataBytes, entry.method !== 0));
  }
  return { file, headers };
}

/**
 * Loads arrays from an `.npz` written by numpy (or `saveNpz`). Every header is checked before any
 * array is allocated; with `keys`, only those members are read.
 */
export async function loadNpz(file: string, options: LoadNpzOptions = {}): Promise<Npz> {
  // Every member is read anyway: a small file is read once, whole, instead of several reads per member.
  const whole = options.keys === undefined ? { wholeUpTo: WHOLE_READ_MAX } : {};
  return withNpz(file, (npz) => loadArrays(npz, file, options), whole);
}

/**
 * `loadNpz` on the bytes of an `.npz` held in memory (e.g. a member of another archive): the same
 * checks (zip structure and zip64, CRC-32, sizes, headers, dtypes, `maxBytes`) and the same error
 * codes and messages, naming `options.what` where `loadNpz` names the file. `bytes` is not modified,
 * and the arrays do not share memory with it.
 */
export async function decodeNpz(bytes: Uint8Array, options: DecodeNpzOptions): Promise<Npz> {
  if (!(bytes instanceof Uint8Array) || typeof options?.what !== "string") {
    const got = bytes instanceof Uint8Array ? `what ${JSON.stringify(options?.what)}` : typeof bytes;
    throw new DataError(
      "INVALID_OPTIONS",
      `decodeNpz needs a Uint8Array (or Buffer) and { what: string } naming it, got ${got}.`,
      {},
    );
  }
  return withNpzBytes(bytes, options.what, (npz) => loadArrays(npz, options.what, options));
}

async function loadArrays(npz: NpzArchive, file: string, options: LoadNpzOptions): Promise<Npz> {
  const selected = selectMembers(npz, options.keys);
  const headers: NpyHeader[] = [];
  for (const [key, entry] of selected) {
    const header = await readHeader(npz, key, entry);
    checkDataSize(header, entry.uncompressedSize - header.headerLength, { file, key }, options.maxBytes);
    headers.push(header);
  }
  const arrays = new Map<string, NdArray>();
  for (const [i, [key, entry]] of selected.entries()) {
    arrays.set(key, await loadMember(npz, key, entry, headers[i]!, options.maxBytes));
  }
  return { file, arrays };
}

function entriesOf(file: string, verb: string, arrays: NpzInput): [string, NdArray][] {
  if (arrays instanceof Map) return [...(arrays as ReadonlyMap<string, NdArray>)];
  if (typeof arrays !== "object" || arrays === null || Array.isArray(arrays)) {
    throw new DataError(
      "INVALID_ARRAY",
      `${file}: ${verb} needs a record or Map of arrays (key -> NdArray).`,
      {
        file,
      },
    );
  }
  return Object.entries(arrays);
}

function metadataArray(file: string, metadata: unknown): NdArray {
  let text: string | undefined;
  try {
    text = JSON.stringify(metadata);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new DataError(
      "INVALID_ARRAY",
      `${file}: _metadata: options.metadata cannot be written as JSON (${reason}); pass plain objects, arrays, strings, numbers, booleans and null.`,
      { file, key: "_metadata", cause: error },
    );
  }
  if (text === undefined) {
    throw new DataError(
      "INVALID_ARRAY",
      `${file}: _metadata: options.metadata is ${typeof metadata}, which JSON cannot represent; pass an object.`,
      { file, key: "_metadata" },
    );
  }
  return { dtype: "U", shape: [], data: [text] };
}

/**
 * Writes arrays as an `.npz` that numpy reads with `allow_pickle=False`. Everything is validated
 * before the file is touched, and the file is written atomically (a temporary file in the same
 * folder, renamed into place): on failure nothing is left half-written.
 */
export async function saveNpz(file: string, arrays: NpzInput, options: SaveNpzOptions = {}): Promise<void> {
  await writeZipAtomic(file, npzSources(file, "saveNpz", arrays, options), {
    compress: options.compress === true,
  });
}

/**
 * The bytes `saveNpz` would write for the same arrays and options (byte for byte), without touching
 * the disk: for an `.npz` inside another container, or sent elsewhere. Same checks and errors.
 */
export async function encodeNpz(arrays: NpzInput, options: EncodeNpzOptions = {}): Promise<Uint8Array> {
  const what = options.what ?? "encodeNpz";
  return writeZipBytes(npzSources(what, "encodeNpz", arrays, options), {
    compress: options.compress === true,
  });
}

/** Validates every array and key, then returns the members to write. */
function npzSources(file: string, verb: string, arrays: NpzInput, options: SaveNpzOptions): ZipSource[] {
  const entries = entriesOf(file, verb, arrays);
  if (options.metadata !== undefined) {
    if (entries.some(([key]) => key === "_metadata")) {
      throw new DataError(
        "INVALID_ARRAY",
        `${file}: _metadata is given twice (as an array and as options.metadata); keep one.`,
        { file, key: "_metadata" },
      );
    }
    entries.push(["_metadata", metadataArray(file, options.metadata)]);
  }
  for (const [key, array] of entries) {
    if (key === "" || key.includes("\0")) {
      throw new DataError(
        "INVALID_ARRAY",
        `${file}: ${JSON.stringify(key)} is not a usable key; use a non-empty name without NUL characters.`,
        { file, key },
      );
    }
    try {
      validateNdArray(key, array);
    } catch (error) {
      if (error instanceof DataError) {
        throw new DataError(error.code, `${file}: ${error.message}`, { file, key, cause: error.cause });
      }
      throw error;
    }
  }
  return entries.map(([key, array]) => ({
    name: `${key}.npy`,
    content: () => {
      const { header, data } = encodeNpyParts(key, array);
      return [header, data];
    },
  }));
}
