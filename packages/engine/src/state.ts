// A training state as bytes: named float32 arrays (weights, optimizer moments) after a JSON header
// with the small state (epoch, step, scheduler, early stopping, RNG). Used for checkpoints and for
// the weights in the model bundle.

const MAGIC = "TKSTATE1";

export interface NamedArray {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface EncodedState {
  readonly arrays: readonly NamedArray[];
  readonly meta: Readonly<Record<string, unknown>>;
}

/** `MAGIC`, uint32 header length, JSON header, then each array's float32 bytes (little-endian). */
export function encodeState(state: EncodedState): Uint8Array {
  let offset = 0;
  const index = state.arrays.map((a) => {
    const entry = { name: a.name, shape: a.shape, offset, length: a.data.length };
    offset += a.data.length;
    return entry;
  });
  const header = new TextEncoder().encode(JSON.stringify({ meta: state.meta, arrays: index }));
  const head = MAGIC.length + 4 + header.length;
  const padding = (4 - (head % 4)) % 4;
  const out = new Uint8Array(head + padding + offset * 4);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(MAGIC.length, header.length + padding, true);
  out.set(header, MAGIC.length + 4);
  out.fill(0x20, MAGIC.length + 4 + header.length, head + padding);
  const floats = new Float32Array(out.buffer, head + padding, offset);
  for (const [i, a] of state.arrays.entries()) floats.set(a.data, index[i]!.offset);
  return out;
}

export function decodeState(bytes: Uint8Array, what: string): EncodedState {
  const magic = new TextDecoder().decode(bytes.subarray(0, MAGIC.length));
  if (magic !== MAGIC) throw new Error(`${what} is not a trainkit state (bad magic "${magic}").`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < MAGIC.length + 4) throw new Error(`${what} is cut short (${bytes.length} bytes).`);
  const headerLength = view.getUint32(MAGIC.length, true);
  const start = MAGIC.length + 4;
  if (start + headerLength > bytes.length || (bytes.length - start - headerLength) % 4 !== 0)
    throw new Error(
      `${what} is damaged (its header length ${headerLength} does not fit its ${bytes.length} bytes).`,
    );
  let header: {
    meta: Record<string, unknown>;
    arrays: { name: string; shape: number[]; offset: number; length: number }[];
  };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(start, start + headerLength)));
  } catch (error) {
    throw new Error(`${what} is damaged (its header is not valid JSON: ${(error as Error).message}).`);
  }
  const floatCount = (bytes.length - start - headerLength) / 4;
  if (
    typeof header !== "object" ||
    header === null ||
    !Array.isArray(header.arrays) ||
    !header.arrays.every(
      (a) =>
        typeof a?.name === "string" &&
        Array.isArray(a.shape) &&
        Number.isSafeInteger(a.offset) &&
        Number.isSafeInteger(a.length) &&
        a.offset >= 0 &&
        a.length >= 0 &&
        a.offset + a.length <= floatCount,
    )
  ) {
    throw new Error(`${what} is damaged (its array index is malformed or points past its data).`);
  }
  // A copy (Buffer#slice would be a view at any byte offset; Float32Array needs a multiple of 4).
  const body = new Uint8Array(bytes.subarray(start + headerLength));
  const floats = new Float32Array(body.buffer, body.byteOffset, body.byteLength / 4);
  return {
    meta: header.meta,
    arrays: header.arrays.map((a) => ({
      name: a.name,
      shape: a.shape,
      data: floats.slice(a.offset, a.offset + a.length),
    })),
  };
}
