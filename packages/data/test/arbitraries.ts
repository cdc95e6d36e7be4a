// fast-check arbitraries for NdArray, one per dtype (kept in one shared file, as the house style asks).
import fc from "fast-check";
import { DTYPES, type Dtype, type NdArray } from "../src/index.ts";

/** Shapes of 0 to 4 dimensions with small sizes (0-d scalars and empty arrays included). */
export const shapeArb: fc.Arbitrary<number[]> = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 });

function count(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A half float's value from its bit pattern (NaN patterns excluded by the caller). */
function halfValue(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

const notNaNHalf = fc
  .integer({ min: 0, max: 0xffff })
  .filter((b) => (b & 0x7c00) !== 0x7c00 || (b & 0x3ff) === 0);

/** Strings that survive a fixed-width numpy string: no trailing NUL (numpy strips those). */
const unicode = fc.string({ unit: "binary", maxLength: 6 }).filter((s) => !s.endsWith("\0"));
/** `S` is stored as UTF-8, which cannot hold lone surrogates. */
const wellFormed = unicode.filter((s) => !/[\uD800-\uDFFF]/u.test(s));

function values(dtype: Dtype, n: number): fc.Arbitrary<NdArray["data"]> {
  const ints = (min: number, max: number) =>
    fc.array(fc.integer({ min, max }), { minLength: n, maxLength: n });
  const big = (min: bigint, max: bigint) => fc.array(fc.bigInt({ min, max }), { minLength: n, maxLength: n });
  const floats = (k: number) => fc.array(fc.float(), { minLength: k, maxLength: k });
  const doubles = (k: number) => fc.array(fc.double(), { minLength: k, maxLength: k });
  switch (dtype) {
    case "b1":
      return ints(0, 1).map((v) => Uint8Array.from(v));
    case "i1":
      return ints(-128, 127).map((v) => Int8Array.from(v));
    case "u1":
      return ints(0, 255).map((v) => Uint8Array.from(v));
    case "i2":
      return ints(-32768, 32767).map((v) => Int16Array.from(v));
    case "u2":
      return ints(0, 65535).map((v) => Uint16Array.from(v));
    case "i4":
      return ints(-(2 ** 31), 2 ** 31 - 1).map((v) => Int32Array.from(v));
    case "u4":
      return ints(0, 2 ** 32 - 1).map((v) => Uint32Array.from(v));
    case "i8":
      return big(-(2n ** 63n), 2n ** 63n - 1n).map((v) => BigInt64Array.from(v));
    case "u8":
      return big(0n, 2n ** 64n - 1n).map((v) => BigUint64Array.from(v));
    case "f2":
      return fc.array(notNaNHalf, { minLength: n, maxLength: n }).map((v) => Float32Array.from(v, halfValue));
    case "f4":
      return floats(n).map((v) => Float32Array.from(v));
    case "f8":
      return doubles(n).map((v) => Float64Array.from(v));
    case "c8":
      return floats(2 * n).map((v) => Float32Array.from(v));
    case "c16":
      return doubles(2 * n).map((v) => Float64Array.from(v));
    case "U":
      return fc.array(unicode, { minLength: n, maxLength: n });
    case "S":
      return fc.array(wellFormed, { minLength: n, maxLength: n });
  }
}

/** A random array of one dtype. */
export function ndArrayArb(dtype: Dtype): fc.Arbitrary<NdArray> {
  return shapeArb.chain((shape) =>
    values(dtype, count(shape)).map((data) => ({ dtype, shape, data }) as NdArray),
  );
}

/** A random array of any dtype. */
export const anyNdArrayArb: fc.Arbitrary<NdArray> = fc.constantFrom(...DTYPES).chain(ndArrayArb);
