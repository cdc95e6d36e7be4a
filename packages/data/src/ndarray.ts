/**
 * Numeric dtypes, named by numpy's kind letter and item size in bytes:
 * bool, signed and unsigned integers, floats, and complex (c8 = complex64, c16 = complex128).
 */
export type NumericDtype =
  | "b1"
  | "i1"
  | "u1"
  | "i2"
  | "u2"
  | "i4"
  | "u4"
  | "i8"
  | "u8"
  | "f2"
  | "f4"
  | "f8"
  | "c8"
  | "c16";

/** Fixed-width strings: `U` is numpy's unicode (`<U…`, UTF-32), `S` its byte strings (`|S…`, read as UTF-8). */
export type StringDtype = "U" | "S";

export type Dtype = NumericDtype | StringDtype;

/** Every dtype, in a stable order. */
export const DTYPES = [
  "b1",
  "i1",
  "u1",
  "i2",
  "u2",
  "i4",
  "u4",
  "i8",
  "u8",
  "f2",
  "f4",
  "f8",
  "c8",
  "c16",
  "U",
  "S",
] as const satisfies readonly Dtype[];

/**
 * The JavaScript storage of each dtype.
 * - `b1` is a `Uint8Array` of 0 and 1.
 * - `f2` (half precision) is widened to a `Float32Array` on read (exactly) and rounded to nearest-even on write.
 * - `i8`/`u8` are `BigInt64Array`/`BigUint64Array`: no precision is lost.
 * - complex dtypes are interleaved `(re, im)` pairs, so `data.length` is twice the element count.
 * - `U`/`S` are arrays of strings (trailing NULs removed, as numpy does).
 */
export interface DtypeData {
  readonly b1: Uint8Array;
  readonly i1: Int8Array;
  readonly u1: Uint8Array;
  readonly i2: Int16Array;
  readonly u2: Uint16Array;
  readonly i4: Int32Array;
  readonly u4: Uint32Array;
  readonly i8: BigInt64Array;
  readonly u8: BigUint64Array;
  readonly f2: Float32Array;
  readonly f4: Float32Array;
  readonly f8: Float64Array;
  readonly c8: Float32Array;
  readonly c16: Float64Array;
  readonly U: readonly string[];
  readonly S: readonly string[];
}

/** An n-dimensional array of one dtype, in C (row-major) order. `shape: []` is a 0-d scalar. */
export interface NdArrayOf<D extends Dtype> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: DtypeData[D];
}

/** An n-dimensional array; narrow on `dtype` to get the matching `data` type. */
export type NdArray = { [D in Dtype]: NdArrayOf<D> }[Dtype];

/** The number of elements of a shape (1 for a 0-d scalar). */
export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  return count;
}
