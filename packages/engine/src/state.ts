// A saved state: named float32 arrays and a JSON metadata member, as an `.npz` that
// `numpy.load(path)` opens (no pickles). Checkpoints (`checkpoint-file.ts`) and the weights in the
// model bundle (`weights/weights.npz`) are both written this way.
import { decodeNpz, encodeNpz, isDataError, loadNpz, type NdArray, saveNpz } from "@trainkit/data";
import { LoopError } from "./loop/errors.ts";

/** What a state file holds; recorded as `_metadata.format` and checked on read. */
export type StateFormat = "trainkit-checkpoint" | "trainkit-weights";

/** How messages name each format. */
const FORMAT_NAMES = {
  "trainkit-checkpoint": "a trainkit checkpoint",
  "trainkit-weights": "trainkit model weights",
} as const satisfies Record<StateFormat, string>;

/** The layout version of both formats (`_metadata.formatVersion`); a newer one is refused. */
export const STATE_FORMAT_VERSION = 1;

/** The `.npz` member that holds the metadata: a 0-d unicode string of JSON (`saveNpz`'s `metadata`). */
export const METADATA_KEY = "_metadata";

/** The file name of the weights inside a model bundle (`weights/weights.npz` in the zip). */
export const WEIGHTS_FILE = "weights.npz";

export interface NamedArray {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface EncodedState {
  /** Float32 arrays; each becomes the member `<name>.npy`, so numpy shows it as `npz[name]`. */
  readonly arrays: readonly NamedArray[];
  /** JSON-serializable values, written beside `format` and `formatVersion` in `_metadata`. */
  readonly meta: Readonly<Record<string, unknown>>;
}

/**
 * Writes `state` to `path` as an `.npz` (atomically: a temporary file, then a rename). Array names
 * must be unique and must not be `_metadata`.
 */
export async function saveState(path: string, format: StateFormat, state: EncodedState): Promise<void> {
  const { arrays, metadata } = stateArrays(path, format, state);
  await saveNpz(path, arrays, { metadata });
}

/** The bytes `saveState` writes, for a container such as the model bundle. */
export async function encodeState(format: StateFormat, state: EncodedState): Promise<Uint8Array> {
  const { arrays, metadata } = stateArrays(WEIGHTS_FILE, format, state);
  return encodeNpz(arrays, { metadata, what: WEIGHTS_FILE });
}

function stateArrays(
  path: string,
  format: StateFormat,
  state: EncodedState,
): { arrays: Map<string, NdArray>; metadata: Record<string, unknown> } {
  const arrays = new Map<string, NdArray>();
  for (const a of state.arrays) {
    const clash =
      a.name === METADATA_KEY ? "is the metadata member's" : arrays.has(a.name) ? "is used twice" : null;
    if (clash !== null) {
      throw new LoopError("INVALID_STATE", `${path}: the array name ${JSON.stringify(a.name)} ${clash}.`, {
        file: path,
      });
    }
    arrays.set(a.name, { dtype: "f4", shape: a.shape, data: a.data });
  }
  // `format` and `formatVersion` last: `meta` cannot override them.
  return { arrays, metadata: { ...state.meta, format, formatVersion: STATE_FORMAT_VERSION } };
}

/**
 * Reads a state file written by `saveState` (or by numpy with the same layout). Throws `BAD_STATE`
 * naming `what` when it is not an `.npz`, is damaged (zip CRC-32 and sizes are checked), has no
 * `_metadata` of `format`, or holds an array that is not float32.
 */
export async function loadState(path: string, format: StateFormat, what = path): Promise<EncodedState> {
  return readState(() => loadNpz(path), path, format, what, what === path ? path : undefined);
}

/** Decodes the bytes of a state file (see `loadState`); `what` names them in errors. */
export async function decodeState(
  bytes: Uint8Array,
  format: StateFormat,
  what: string,
): Promise<EncodedState> {
  // Bytes name no file of the user's: the error's `file` stays unset.
  return readState(() => decodeNpz(bytes, { what }), what, format, what, undefined);
}

async function readState(
  load: () => Promise<{ readonly arrays: ReadonlyMap<string, NdArray> }>,
  source: string,
  format: StateFormat,
  what: string,
  file: string | undefined,
): Promise<EncodedState> {
  const bad = (why: string, cause?: unknown): LoopError =>
    new LoopError("BAD_STATE", `${what}: ${why}`, { file, cause });
  let arrays: ReadonlyMap<string, NdArray>;
  try {
    arrays = (await load()).arrays;
  } catch (error) {
    if (!isDataError(error)) throw error;
    // The reader's message names the source; ours names `what` once, in front.
    let detail = error.message.split(source).join(what);
    if (detail.startsWith(`${what}: `)) detail = detail.slice(what.length + 2);
    detail = detail.replace(/\.$/, "");
    if (error.code === "NOT_A_ZIP") throw bad(`not ${FORMAT_NAMES[format]}: ${detail}.`, error);
    if (error.code === "FILE_NOT_FOUND" || error.code === "NOT_A_FILE" || error.code === "READ_FAILED")
      throw bad(`cannot be read: ${detail}.`, error);
    throw bad(`cannot be read as an .npz: ${detail}.`, error);
  }
  const raw = arrays.get(METADATA_KEY);
  if (raw === undefined) throw bad(`not ${FORMAT_NAMES[format]} (it has no ${METADATA_KEY} member).`);
  let meta: unknown;
  try {
    if (raw.dtype !== "U" || raw.shape.length !== 0) throw new Error("not a 0-d unicode string");
    meta = JSON.parse(raw.data[0] ?? "");
  } catch (error) {
    throw bad(`${METADATA_KEY} is not a JSON string (${(error as Error).message}).`, error);
  }
  if (typeof meta !== "object" || meta === null || Array.isArray(meta)) {
    throw bad(`${METADATA_KEY} is not a JSON object.`);
  }
  const { format: found, formatVersion, ...rest } = meta as Record<string, unknown>;
  if (found !== format) {
    throw bad(`not ${FORMAT_NAMES[format]} (its ${METADATA_KEY} says format ${JSON.stringify(found)}).`);
  }
  if (typeof formatVersion !== "number" || !Number.isInteger(formatVersion) || formatVersion < 1) {
    throw bad(
      `${METADATA_KEY}.formatVersion must be a positive integer, got ${JSON.stringify(formatVersion)}.`,
    );
  }
  if (formatVersion > STATE_FORMAT_VERSION) {
    throw bad(
      `format version ${formatVersion} is newer than this trainkit reads (${STATE_FORMAT_VERSION}); upgrade trainkit.`,
    );
  }
  const out: NamedArray[] = [];
  for (const [name, array] of arrays) {
    if (name === METADATA_KEY) continue;
    if (array.dtype !== "f4") {
      throw bad(
        `${name} is of dtype ${array.dtype}; trainkit saves float32 (convert it with .astype(numpy.float32)).`,
      );
    }
    out.push({ name, shape: array.shape, data: array.data });
  }
  return { arrays: out, meta: rest };
}

/** The bytes of the bundle's `weights/weights.npz`: the model's variables and the input calibration. */
export function encodeWeights(state: EncodedState): Promise<Uint8Array> {
  return encodeState("trainkit-weights", state);
}

/** Decodes a bundle's `weights/weights.npz` (see `loadState`). */
export function decodeWeights(bytes: Uint8Array, what: string): Promise<EncodedState> {
  return decodeState(bytes, "trainkit-weights", what);
}
