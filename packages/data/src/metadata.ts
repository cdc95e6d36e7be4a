import { DataError } from "./errors.ts";
import { formatShape } from "./internal/format.ts";
import type { NdArray } from "./ndarray.ts";
import type { Npz } from "./npz.ts";

/** The `_metadata` text of an array: a 0-d (or one-element) `<U` or `|S` string array. */
export function metadataText(file: string, array: NdArray): string {
  if (array.dtype !== "U" && array.dtype !== "S") {
    throw new DataError(
      "BAD_METADATA",
      `${file}: _metadata has dtype ${array.dtype}; it must be a JSON string (save it with np.savez(path, _metadata=json.dumps(meta))).`,
      { file, key: "_metadata" },
    );
  }
  const text = array.data[0];
  if (array.data.length !== 1 || text === undefined) {
    throw new DataError(
      "BAD_METADATA",
      `${file}: _metadata has shape ${formatShape(array.shape)}; it must hold one JSON string (a 0-d array, as np.savez(path, _metadata=json.dumps(meta)) writes).`,
      { file, key: "_metadata" },
    );
  }
  return text;
}

/** Parses `_metadata` JSON; BAD_METADATA when it is not a JSON string. */
export function parseMetadataArray(file: string, array: NdArray): unknown {
  const text = metadataText(file, array);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const nan = /\b(NaN|-?Infinity)\b/.test(text)
      ? " It contains NaN or Infinity, which Python's json.dumps writes but JSON forbids; write it with allow_nan=False after replacing them."
      : "";
    throw new DataError(
      "BAD_METADATA",
      `${file}: _metadata is not valid JSON (${reason}); write it with json.dumps.${nan}`,
      { file, key: "_metadata", cause: error },
    );
  }
}

/**
 * The parsed `_metadata` JSON of a loaded `.npz`, or `undefined` when it has no `_metadata` array
 * (load it along with the rest, or with `loadNpz(file, { keys: ["_metadata"] })`).
 */
export function readMetadata(npz: Npz): unknown {
  const array = npz.arrays.get("_metadata");
  return array === undefined ? undefined : parseMetadataArray(npz.file, array);
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * `physics_parameters.nphotons` of parsed metadata: `undefined` when absent (or null), BAD_METADATA
 * when the metadata is not an object or the value is not a positive finite number.
 */
export function nphotonsFromMetadata(file: string, metadata: unknown): number | undefined {
  const fail = (message: string): DataError =>
    new DataError("BAD_METADATA", `${file}: _metadata${message}`, { file, key: "_metadata" });
  if (!isRecord(metadata)) {
    throw fail(
      ` must be a JSON object, got ${Array.isArray(metadata) ? "an array" : JSON.stringify(metadata)}.`,
    );
  }
  const physics = metadata.physics_parameters;
  if (physics === undefined || physics === null) return undefined;
  if (!isRecord(physics)) {
    throw fail(`.physics_parameters must be an object, got ${JSON.stringify(physics)}.`);
  }
  const nphotons = physics.nphotons;
  if (nphotons === undefined || nphotons === null) return undefined;
  if (typeof nphotons !== "number" || !Number.isFinite(nphotons) || nphotons <= 0) {
    throw fail(
      `.physics_parameters.nphotons must be a positive finite number, got ${JSON.stringify(nphotons)}; fix the metadata or set nphotons explicitly.`,
    );
  }
  return nphotons;
}
