import { DataError } from "./errors.ts";
import { loadMember, missingKey, type NpzArchive, readHeader, withNpz } from "./internal/archive.ts";
import { formatShape } from "./internal/format.ts";
import { nphotonsFromMetadata, parseMetadataArray } from "./metadata.ts";

/** A value read from a data file, and where exactly it came from (for the audit trail). */
export interface InferredValue<T> {
  readonly value: T;
  /** E.g. `train.npz:probeGuess.shape`: the file as given, then the key and field. */
  readonly source: string;
}

/**
 * The probe size N, from the `probeGuess` header only (no array data is read): `shape[0]` of a
 * square 2-D probe. Unlike upstream, which warns and falls back to 64, every problem is an error:
 * FILE_NOT_FOUND, MISSING_KEY, BAD_SHAPE (not 2-D, or empty), NON_SQUARE_PROBE, and the read errors.
 */
export async function inferProbeSize(file: string): Promise<InferredValue<number>> {
  return withNpz(file, async (npz) => {
    const entry = npz.members.get("probeGuess");
    return probeSizeOf(npz, file, entry && (await readHeader(npz, "probeGuess", entry)).shape);
  });
}

/** N from the shape of `probeGuess` (undefined: the archive has no probe), with inferProbeSize's errors. */
export function probeSizeOf(
  npz: NpzArchive,
  file: string,
  shape: readonly number[] | undefined,
): InferredValue<number> {
  const key = "probeGuess";
  if (!shape)
    throw missingKey(npz, key, " (N is inferred from probeGuess.shape; add the probe or set N explicitly)");
  const [rows, cols] = shape;
  if (shape.length !== 2 || rows === undefined || cols === undefined) {
    throw new DataError(
      "BAD_SHAPE",
      `${file}: probeGuess has shape ${formatShape(shape)}; the probe must be a 2-D (N, N) array. Save a single N x N probe, or set N explicitly.`,
      { file, key },
    );
  }
  if (rows !== cols) {
    throw new DataError(
      "NON_SQUARE_PROBE",
      `${file}: probeGuess has shape ${formatShape(shape)}; the probe must be square (N x N).`,
      { file, key },
    );
  }
  if (rows === 0) {
    throw new DataError(
      "BAD_SHAPE",
      `${file}: probeGuess has shape ${formatShape(shape)}; the probe is empty.`,
      {
        file,
        key,
      },
    );
  }
  return { value: rows, source: `${file}:probeGuess.shape` };
}

/**
 * `physics_parameters.nphotons` from the file's `_metadata` JSON, or `undefined` when the file has
 * no `_metadata` or the metadata has no such value. Errors: FILE_NOT_FOUND (and the other read
 * errors), PICKLED (an object-array `_metadata`), BAD_METADATA (not JSON, or not a positive number).
 */
export async function readNphotons(file: string): Promise<InferredValue<number> | undefined> {
  return withNpz(file, (npz) => nphotonsIn(npz, file));
}

/** `readNphotons` on an archive already open. */
export async function nphotonsIn(npz: NpzArchive, file: string): Promise<InferredValue<number> | undefined> {
  const key = "_metadata";
  const entry = npz.members.get(key);
  if (!entry) return undefined;
  const header = await readHeader(npz, key, entry);
  // The metadata is a short string: a small limit keeps a lying header from costing memory.
  const array = await loadMember(npz, key, entry, header, 64 * 1024 * 1024);
  const value = nphotonsFromMetadata(file, parseMetadataArray(file, array));
  return value === undefined ? undefined : { value, source: `${file}:_metadata.physics_parameters.nphotons` };
}
