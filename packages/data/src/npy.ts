// One `.npy` array held in memory: the public face of `internal/npy-format.ts`.

import {
  checkDataSize,
  DEFAULT_MAX_BYTES,
  decodeNpyData,
  encodeNpyParts,
  type NpyContext,
  type NpyOptions,
  type NpyVersion,
  parseNpyHeader,
} from "./internal/npy-format.ts";
import type { NdArray } from "./ndarray.ts";

export { DEFAULT_MAX_BYTES, type NpyOptions, type NpyVersion };

/**
 * Parses a whole `.npy` file held in memory. Big-endian data is byte-swapped, Fortran order is
 * converted to C order, and `bytes` is not modified.
 */
export function parseNpy(bytes: Uint8Array, options: NpyOptions = {}): NdArray {
  const ctx: NpyContext = { file: undefined, key: undefined };
  const header = parseNpyHeader(bytes, ctx);
  checkDataSize(header, bytes.length - header.headerLength, ctx, options.maxBytes);
  // A copy (`new Uint8Array(view)` copies even when `bytes` is a Buffer, whose slice() would not).
  return decodeNpyData(header, new Uint8Array(bytes.subarray(header.headerLength)), ctx);
}

/** Serializes one array as a complete `.npy` file (format 1.0, or 2.0 for huge headers). */
export function encodeNpy(array: NdArray): Uint8Array {
  const { header, data } = encodeNpyParts("array", array);
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}
