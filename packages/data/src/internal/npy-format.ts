// The `.npy` format itself: header parsing and checks, decoding and encoding. Shared by the public
// `npy.ts` (one array in memory) and the `.npz` reader and writer (`archive.ts`, `npz.ts`).

import { DataError } from "../errors.ts";
import { DTYPES, type Dtype, type DtypeData, type NdArray, type NumericDtype } from "../ndarray.ts";
import { type Descr, dtypeDescr, isNumericDtype, NUMERIC_INFO, parseDescr } from "./dtypes.ts";
import { formatBytes, formatShape, where } from "./format.ts";
import { decodeHalf, encodeHalf } from "./half.ts";
import { PyLiteralError, type PyValue, parsePyLiteral } from "./pylit.ts";

/** `.npy` format versions: 1.0 (header up to 64 KiB), 2.0 (up to 4 GiB), 3.0 (UTF-8 header). */
export type NpyVersion = "1.0" | "2.0" | "3.0";

/** Default for `maxBytes`: the largest array (bytes in memory) a reader allocates. 2 GiB. */
export const DEFAULT_MAX_BYTES: number = 2 * 1024 ** 3;

/** Longest `.npy` header dictionary accepted (numpy writes ~120 bytes for non-structured dtypes). */
const MAX_HEADER_TEXT = 1024 * 1024;

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59] as const; // \x93NUMPY

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export interface NpyOptions {
  /** Largest array, in bytes once decoded, that may be allocated. Default `DEFAULT_MAX_BYTES` (2 GiB). */
  readonly maxBytes?: number;
}

/** Who is asking, for messages. */
export interface NpyContext {
  readonly file: string | undefined;
  readonly key: string | undefined;
}

/** A parsed `.npy` header. */
export interface NpyHeader {
  readonly version: NpyVersion;
  /** Bytes before the array data (magic, version, length, dictionary). */
  readonly headerLength: number;
  /** The dtype as numpy wrote it (`"<f4"`, `"|O"`), or `"<structured>"` for record dtypes. */
  readonly descr: string;
  readonly parsed: Descr;
  readonly fortranOrder: boolean;
  readonly shape: readonly number[];
  /** Number of elements. */
  readonly count: number;
}

function badHeader(ctx: NpyContext, reason: string, cause?: unknown): DataError {
  return new DataError(
    "BAD_HEADER",
    `${where(ctx.file, ctx.key)}: the .npy header is malformed (${reason}); the file is corrupt or was not written by numpy. Re-create it with numpy.savez.`,
    { file: ctx.file, key: ctx.key, cause },
  );
}

/**
 * The total header length, from the first bytes of a member (10 bytes for version 1, 12 for 2 and 3).
 * Returns `undefined` when `prefix` is too short to tell.
 */
export function npyHeaderLength(prefix: Uint8Array, ctx: NpyContext): number | undefined {
  const magicLength = Math.min(prefix.length, MAGIC.length);
  for (let i = 0; i < magicLength; i++) {
    if (prefix[i] !== MAGIC[i]) {
      throw badHeader(ctx, "it does not start with the .npy magic string \\x93NUMPY");
    }
  }
  if (prefix.length < 8) return undefined;
  const major = prefix[6]!;
  const minor = prefix[7]!;
  if (major < 1 || major > 3 || minor !== 0) {
    throw new DataError(
      "BAD_HEADER",
      `${where(ctx.file, ctx.key)}: .npy format version ${major}.${minor} is not supported (1.0, 2.0 and 3.0 are); re-save the array with numpy.`,
      { file: ctx.file, key: ctx.key },
    );
  }
  const preamble = major === 1 ? 10 : 12;
  if (prefix.length < preamble) return undefined;
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  const textLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (textLength > MAX_HEADER_TEXT) {
    throw badHeader(ctx, `the header dictionary is ${formatBytes(textLength)}, over the 1 MiB limit`);
  }
  return preamble + textLength;
}

function toSafeInt(value: PyValue, ctx: NpyContext, shapeText: string): number {
  if (typeof value !== "bigint") throw badHeader(ctx, `shape ${shapeText} holds a non-integer`);
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw badHeader(ctx, `shape ${shapeText} has a dimension that is negative or too large`);
  }
  return Number(value);
}

function reprPy(value: PyValue): string {
  if (typeof value === "string") return `'${value}'`;
  if (typeof value === "bigint") return String(value);
  if (typeof value === "boolean") return value ? "True" : "False";
  if (value === null) return "None";
  if (Array.isArray(value)) return formatShape(value.map((v: PyValue) => reprPy(v)));
  return "{...}";
}

/** Parses a complete header (`bytes` holds at least `npyHeaderLength` bytes). */
export function parseNpyHeader(bytes: Uint8Array, ctx: NpyContext): NpyHeader {
  const headerLength = npyHeaderLength(bytes, ctx);
  if (headerLength === undefined || bytes.length < headerLength) {
    throw badHeader(ctx, "the member ends inside the header");
  }
  const major = bytes[6]!;
  const preamble = major === 1 ? 10 : 12;
  const raw = bytes.subarray(preamble, headerLength);
  const text = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(raw);
  let dict: PyValue;
  try {
    dict = parsePyLiteral(text);
  } catch (error) {
    if (error instanceof PyLiteralError) throw badHeader(ctx, error.message, error);
    throw error;
  }
  if (!(dict instanceof Map)) throw badHeader(ctx, "the header is not a dictionary");
  const keys = [...dict.keys()].sort().join(",");
  if (keys !== "descr,fortran_order,shape") {
    throw badHeader(ctx, `the header must have exactly the keys descr, fortran_order and shape, got ${keys}`);
  }
  const rawDescr = dict.get("descr")!;
  const fortran = dict.get("fortran_order");
  const rawShape = dict.get("shape")!;
  if (typeof fortran !== "boolean") throw badHeader(ctx, "fortran_order is not True or False");
  if (!Array.isArray(rawShape)) throw badHeader(ctx, `shape ${reprPy(rawShape)} is not a tuple`);
  const shapeText = reprPy(rawShape);
  const shape = (rawShape as readonly PyValue[]).map((d) => toSafeInt(d, ctx, shapeText));
  let count = 1n;
  for (const d of shape) count *= BigInt(d);
  if (count > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw badHeader(ctx, `shape ${shapeText} has more elements than JavaScript can index`);
  }
  return {
    version: `${major}.0` as NpyVersion,
    headerLength,
    descr: typeof rawDescr === "string" ? rawDescr : "<structured>",
    parsed: parseDescr(rawDescr),
    fortranOrder: fortran,
    shape,
    count: Number(count),
  };
}

/** Throws PICKLED or UNSUPPORTED_DTYPE unless the header's dtype can be decoded. */
export function requireSupportedDtype(
  header: NpyHeader,
  ctx: NpyContext,
): Extract<Descr, { readonly ok: true }> {
  const parsed = header.parsed;
  if (parsed.ok) return parsed;
  if (parsed.pickled) {
    throw new DataError(
      "PICKLED",
      `${where(ctx.file, ctx.key)} is a pickled object array (|O), which is refused because unpickling can run arbitrary code; save the file without pickles (store strings as str, e.g. np.savez(path, _metadata=json.dumps(meta)), and numbers as numeric arrays).`,
      { file: ctx.file, key: ctx.key },
    );
  }
  throw new DataError(
    "UNSUPPORTED_DTYPE",
    `${where(ctx.file, ctx.key)} has ${parsed.reason}, which cannot be read; supported dtypes are bool, (u)int8/16/32/64, float16/32/64, complex64/128, str and bytes. Convert it before saving, e.g. arr.astype(np.float32).`,
    { file: ctx.file, key: ctx.key },
  );
}

/** Bytes an array occupies in memory once decoded (f2 widens to 4 bytes per element). */
function memoryBytes(dtype: Dtype, count: number, itemsize: number): number {
  if (!isNumericDtype(dtype)) return count * itemsize;
  const info = NUMERIC_INFO[dtype];
  return count * info.lanes * info.laneBytes;
}

/**
 * The header must not lie: its shape times the item size must equal the data bytes the member
 * really holds (from the zip directory). Pickled and unsupported dtypes are not checked here.
 */
export function checkClaimedSize(header: NpyHeader, dataBytes: number, ctx: NpyContext): void {
  if (!header.parsed.ok) return;
  const claimed = BigInt(header.count) * BigInt(header.parsed.itemsize);
  if (claimed !== BigInt(dataBytes)) {
    throw new DataError(
      "SIZE_MISMATCH",
      `${where(ctx.file, ctx.key)}: the .npy header claims shape ${formatShape(header.shape)} of ${header.descr} (${claimed} bytes) but the member holds ${dataBytes} bytes of data; the file is corrupt or was written by a broken tool. Re-create it with numpy.savez.`,
      { file: ctx.file, key: ctx.key },
    );
  }
}

/**
 * The checks that must pass before anything is allocated: a loadable dtype, a header that does not
 * lie about the size, and a decoded size within `maxBytes`.
 */
export function checkDataSize(
  header: NpyHeader,
  dataBytes: number,
  ctx: NpyContext,
  maxBytes: number | undefined,
): void {
  const dtype = requireSupportedDtype(header, ctx);
  checkClaimedSize(header, dataBytes, ctx);
  const limit = maxBytes ?? DEFAULT_MAX_BYTES;
  const needed = memoryBytes(dtype.dtype, header.count, dtype.itemsize);
  if (needed > limit) {
    throw new DataError(
      "TOO_LARGE",
      `${where(ctx.file, ctx.key)}: shape ${formatShape(header.shape)} of ${header.descr} needs ${formatBytes(needed)} in memory, over the ${formatBytes(limit)} limit; pass a larger maxBytes if the machine has the memory.`,
      { file: ctx.file, key: ctx.key },
    );
  }
}

function swapBytes(bytes: Uint8Array, width: number): void {
  for (let i = 0; i + width <= bytes.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

interface Indexed {
  [index: number]: unknown;
}

/** Reorders a Fortran-order (column-major) buffer into C order, `lanes` values per element. */
function fortranToC(src: Indexed, dst: Indexed, shape: readonly number[], lanes: number): void {
  const nd = shape.length;
  const strides: number[] = [];
  let stride = lanes;
  for (let k = 0; k < nd; k++) {
    strides.push(stride);
    stride *= shape[k]!;
  }
  const count = stride / lanes;
  const index = new Array<number>(nd).fill(0);
  let from = 0;
  for (let to = 0; to < count * lanes; to += lanes) {
    for (let l = 0; l < lanes; l++) dst[to + l] = src[from + l];
    for (let k = nd - 1; k >= 0; k--) {
      index[k]!++;
      from += strides[k]!;
      if (index[k]! < shape[k]!) break;
      from -= strides[k]! * shape[k]!;
      index[k] = 0;
    }
  }
}

function decodeStrings(header: NpyHeader, descr: Extract<Descr, { ok: true }>, data: Uint8Array): string[] {
  const out: string[] = new Array<string>(header.count);
  const size = descr.itemsize;
  if (descr.dtype === "U") {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const little = !descr.bigEndian;
    for (let i = 0; i < header.count; i++) {
      let end = size / 4;
      const base = i * size;
      while (end > 0 && view.getUint32(base + (end - 1) * 4, little) === 0) end--;
      const points: number[] = [];
      for (let j = 0; j < end; j++) {
        const cp = view.getUint32(base + j * 4, little);
        points.push(cp > 0x10ffff ? 0xfffd : cp);
      }
      let text = "";
      for (let j = 0; j < points.length; j += 8192)
        text += String.fromCodePoint(...points.slice(j, j + 8192));
      out[i] = text;
    }
  } else {
    const decoder = new TextDecoder("utf-8");
    for (let i = 0; i < header.count; i++) {
      let end = (i + 1) * size;
      while (end > i * size && data[end - 1] === 0) end--;
      out[i] = decoder.decode(data.subarray(i * size, end));
    }
  }
  return out;
}

function decodeNumeric(
  dtype: NumericDtype,
  header: NpyHeader,
  bigEndian: boolean,
  data: Uint8Array,
): DtypeData[NumericDtype] {
  const info = NUMERIC_INFO[dtype];
  const laneSize = info.itemsize / info.lanes;
  const lanes = header.count * info.lanes;
  let bytes = data;
  if (laneSize > 1 && bigEndian === HOST_LITTLE_ENDIAN) swapBytes(bytes, laneSize);
  if (bytes.byteOffset % laneSize !== 0) bytes = new Uint8Array(bytes);
  let values: DtypeData[NumericDtype];
  if (dtype === "f2") {
    values = decodeHalf(new Uint16Array(bytes.buffer, bytes.byteOffset, lanes));
  } else {
    values = info.view(bytes.buffer, bytes.byteOffset, lanes);
  }
  if (header.fortranOrder && header.shape.length > 1) {
    const c = info.alloc(lanes);
    fortranToC(values, c, header.shape, info.lanes);
    values = c;
  }
  return values;
}

/**
 * Decodes the data that follows a header. `data` must be exactly the data bytes; it is byte-swapped
 * in place when the file is big-endian, and the result may be a view over it.
 */
export function decodeNpyData(header: NpyHeader, data: Uint8Array, ctx: NpyContext): NdArray {
  const descr = requireSupportedDtype(header, ctx);
  if (descr.dtype === "U" || descr.dtype === "S") {
    let strings = decodeStrings(header, descr, data);
    if (header.fortranOrder && header.shape.length > 1) {
      const c = new Array<string>(strings.length);
      fortranToC(strings, c, header.shape, 1);
      strings = c;
    }
    return { dtype: descr.dtype, shape: header.shape, data: strings };
  }
  const values = decodeNumeric(descr.dtype, header, descr.bigEndian, data);
  return { dtype: descr.dtype, shape: header.shape, data: values } as NdArray;
}

// ---------------------------------------------------------------------------------------------
// Writing

function invalid(key: string, message: string): DataError {
  return new DataError("INVALID_ARRAY", `${key}: ${message}`, { key });
}

function describeData(data: unknown): string {
  if (data === null) return "null";
  if (typeof data !== "object") return typeof data;
  return (data as object).constructor?.name ?? "object";
}

/** Checks that an array's dtype, shape and data agree; returns the element count. */
export function validateNdArray(key: string, array: NdArray): number {
  if (typeof array !== "object" || array === null) {
    throw invalid(key, `must be an NdArray ({ dtype, shape, data }), got ${describeData(array)}.`);
  }
  const dtype: unknown = array.dtype;
  if (!(DTYPES as readonly unknown[]).includes(dtype)) {
    throw invalid(key, `dtype ${JSON.stringify(dtype)} is not one of ${DTYPES.join(", ")}.`);
  }
  const shape: unknown = array.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw invalid(key, `shape must be an array of non-negative integers, got ${JSON.stringify(shape)}.`);
  }
  let count = 1;
  for (const d of shape as number[]) count *= d;
  if (!Number.isSafeInteger(count)) {
    throw invalid(key, `shape ${formatShape(shape as number[])} has too many elements.`);
  }
  const d = dtype as Dtype;
  if (!isNumericDtype(d)) {
    const data: unknown = array.data;
    if (!Array.isArray(data) || !data.every((s) => typeof s === "string")) {
      throw invalid(key, `dtype ${d} needs data as an array of strings, got ${describeData(data)}.`);
    }
    if (data.length !== count) {
      throw invalid(
        key,
        `shape ${formatShape(shape as number[])} has ${count} elements but data has ${data.length} strings.`,
      );
    }
    return count;
  }
  const info = NUMERIC_INFO[d];
  if (!info.is(array.data)) {
    const expected = info.alloc(0).constructor.name;
    throw invalid(
      key,
      `dtype ${d} (${info.name}) needs data as a ${expected}, got ${describeData(array.data)}.`,
    );
  }
  const length = (array.data as { readonly length: number }).length;
  if (length !== count * info.lanes) {
    const per = info.lanes === 2 ? ` (2 values per complex element, interleaved re, im)` : "";
    throw invalid(
      key,
      `shape ${formatShape(shape as number[])} needs ${count * info.lanes} values${per} but data has ${length}.`,
    );
  }
  return count;
}

function bytesOf(values: ArrayBufferView): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

function littleEndianBytes(values: ArrayBufferView, laneSize: number): Uint8Array {
  const bytes = bytesOf(values);
  if (HOST_LITTLE_ENDIAN || laneSize === 1) return bytes;
  const copy = bytes.slice();
  swapBytes(copy, laneSize);
  return copy;
}

function encodeData(array: NdArray): { readonly bytes: Uint8Array; readonly width: number } {
  switch (array.dtype) {
    case "U": {
      let width = 1;
      const points = array.data.map((s) => Array.from(s, (ch) => ch.codePointAt(0)!));
      for (const p of points) width = Math.max(width, p.length);
      const out = new Uint32Array(points.length * width);
      points.forEach((p, i) => {
        out.set(p, i * width);
      });
      return { bytes: littleEndianBytes(out, 4), width };
    }
    case "S": {
      const encoder = new TextEncoder();
      const encoded = array.data.map((s) => encoder.encode(s));
      let width = 1;
      for (const e of encoded) width = Math.max(width, e.length);
      const out = new Uint8Array(encoded.length * width);
      encoded.forEach((e, i) => {
        out.set(e, i * width);
      });
      return { bytes: out, width };
    }
    case "f2":
      return { bytes: littleEndianBytes(encodeHalf(array.data), 2), width: 1 };
    case "b1": {
      const data = array.data;
      const clean = data.every((v) => v <= 1);
      return { bytes: clean ? data : data.map((v) => (v === 0 ? 0 : 1)), width: 1 };
    }
    default: {
      const info = NUMERIC_INFO[array.dtype];
      return { bytes: littleEndianBytes(array.data, info.itemsize / info.lanes), width: 1 };
    }
  }
}

const ARRAY_ALIGN = 64;

function encodeHeader(descr: string, shape: readonly number[]): Uint8Array {
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${formatShape(shape)}, }`;
  let preamble = 10;
  let pad = ARRAY_ALIGN - ((preamble + dict.length + 1) % ARRAY_ALIGN);
  if (dict.length + 1 + pad > 0xffff) {
    preamble = 12;
    pad = ARRAY_ALIGN - ((preamble + dict.length + 1) % ARRAY_ALIGN);
  }
  const text = `${dict}${" ".repeat(pad % ARRAY_ALIGN)}\n`;
  const out = new Uint8Array(preamble + text.length);
  out.set(MAGIC);
  const view = new DataView(out.buffer);
  if (preamble === 10) {
    out[6] = 1;
    view.setUint16(8, text.length, true);
  } else {
    out[6] = 2;
    view.setUint32(8, text.length, true);
  }
  for (let i = 0; i < text.length; i++) out[preamble + i] = text.charCodeAt(i);
  return out;
}

/**
 * The two parts of an `.npy` file for an array: the header and the data bytes (little-endian,
 * C order). The data may be a view over `array.data`, not a copy.
 */
export function encodeNpyParts(
  key: string,
  array: NdArray,
): { readonly header: Uint8Array; readonly data: Uint8Array } {
  validateNdArray(key, array);
  const { bytes, width } = encodeData(array);
  return { header: encodeHeader(dtypeDescr(array.dtype, width), array.shape), data: bytes };
}
