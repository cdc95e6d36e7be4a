import type { Dtype, DtypeData, NumericDtype } from "../ndarray.ts";

type NumericData = DtypeData[NumericDtype];

/** How one numeric dtype is laid out in the file and held in memory. */
export interface NumericInfo {
  /** Bytes per element in the `.npy` data. */
  readonly itemsize: number;
  /** JavaScript array elements per numpy element (2 for complex). */
  readonly lanes: 1 | 2;
  /** Bytes per JavaScript array element (differs from itemsize/lanes only for f2). */
  readonly laneBytes: number;
  /** numpy's name, for messages. */
  readonly name: string;
  /** A view over raw bytes in the dtype's storage layout (not for f2). */
  readonly view: (buffer: ArrayBufferLike, byteOffset: number, length: number) => NumericData;
  readonly alloc: (length: number) => NumericData;
  readonly is: (value: unknown) => boolean;
}

function info(
  itemsize: number,
  lanes: 1 | 2,
  name: string,
  ctor:
    | Int8ArrayConstructor
    | Uint8ArrayConstructor
    | Int16ArrayConstructor
    | Uint16ArrayConstructor
    | Int32ArrayConstructor
    | Uint32ArrayConstructor
    | BigInt64ArrayConstructor
    | BigUint64ArrayConstructor
    | Float32ArrayConstructor
    | Float64ArrayConstructor,
): NumericInfo {
  // One constructor type per call keeps the union out of `new`; each arm below is monomorphic.
  const make = ctor as Float64ArrayConstructor;
  return {
    itemsize,
    lanes,
    laneBytes: ctor.BYTES_PER_ELEMENT,
    name,
    view: (buffer, byteOffset, length) => new make(buffer, byteOffset, length) as NumericData,
    alloc: (length) => new make(length) as NumericData,
    is: (value) => value instanceof ctor,
  };
}

export const NUMERIC_INFO = {
  b1: info(1, 1, "bool", Uint8Array),
  i1: info(1, 1, "int8", Int8Array),
  u1: info(1, 1, "uint8", Uint8Array),
  i2: info(2, 1, "int16", Int16Array),
  u2: info(2, 1, "uint16", Uint16Array),
  i4: info(4, 1, "int32", Int32Array),
  u4: info(4, 1, "uint32", Uint32Array),
  i8: info(8, 1, "int64", BigInt64Array),
  u8: info(8, 1, "uint64", BigUint64Array),
  f2: info(2, 1, "float16", Float32Array),
  f4: info(4, 1, "float32", Float32Array),
  f8: info(8, 1, "float64", Float64Array),
  c8: info(8, 2, "complex64", Float32Array),
  c16: info(16, 2, "complex128", Float64Array),
} as const satisfies Record<NumericDtype, NumericInfo>;

export function isNumericDtype(dtype: Dtype): dtype is NumericDtype {
  return dtype !== "U" && dtype !== "S";
}

/** A dtype string from an `.npy` header, understood. */
export type Descr =
  | {
      readonly ok: true;
      readonly dtype: Dtype;
      /** Bytes per element in the file. */
      readonly itemsize: number;
      readonly bigEndian: boolean;
    }
  | { readonly ok: false; readonly pickled: boolean; readonly reason: string };

const NUMERIC_BY_DESCR: Readonly<Record<string, NumericDtype>> = {
  b1: "b1",
  i1: "i1",
  u1: "u1",
  i2: "i2",
  u2: "u2",
  i4: "i4",
  u4: "u4",
  i8: "i8",
  u8: "u8",
  f2: "f2",
  f4: "f4",
  f8: "f8",
  c8: "c8",
  c16: "c16",
};

const UNSUPPORTED_KIND: Readonly<Record<string, string>> = {
  V: "raw void/record data",
  M: "datetime64",
  m: "timedelta64",
};

/** Interprets numpy's `descr` (`"<f4"`, `">i8"`, `"<U17"`, `"|O"`, a structured list, ...). */
export function parseDescr(descr: unknown): Descr {
  if (typeof descr !== "string") {
    return { ok: false, pickled: false, reason: "a structured (record) dtype" };
  }
  const m = /^([<>|=]?)([a-zA-Z])(\d*)(\[\w+\])?$/.exec(descr);
  if (!m) return { ok: false, pickled: false, reason: `dtype ${descr}` };
  const order = m[1] ?? "";
  const kind = m[2] ?? "";
  const size = m[3] ?? "";
  const bigEndian = order === ">";
  if (kind === "O") return { ok: false, pickled: true, reason: "a pickled object array (|O)" };
  if (kind === "U" || kind === "S" || kind === "a") {
    const chars = size === "" ? 0 : Number(size);
    if (!Number.isSafeInteger(chars)) {
      return { ok: false, pickled: false, reason: `dtype ${descr}` };
    }
    return kind === "U"
      ? { ok: true, dtype: "U", itemsize: chars * 4, bigEndian }
      : { ok: true, dtype: "S", itemsize: chars, bigEndian };
  }
  const numeric = m[4] === undefined ? NUMERIC_BY_DESCR[`${kind}${size}`] : undefined;
  if (numeric) return { ok: true, dtype: numeric, itemsize: NUMERIC_INFO[numeric].itemsize, bigEndian };
  const what = UNSUPPORTED_KIND[kind];
  return {
    ok: false,
    pickled: false,
    reason: what ? `dtype ${what} (${descr})` : `dtype ${descr}`,
  };
}

/** numpy's name for a dtype, e.g. `float32`, `complex64`, `<U5`. */
export function dtypeName(dtype: Dtype): string {
  if (dtype === "U") return "str";
  if (dtype === "S") return "bytes";
  return NUMERIC_INFO[dtype].name;
}

/** The `descr` numpy writes for a dtype (strings need their width). */
export function dtypeDescr(dtype: Dtype, width = 1): string {
  if (dtype === "U") return `<U${width}`;
  if (dtype === "S") return `|S${width}`;
  if (dtype === "b1" || dtype === "i1" || dtype === "u1") return `|${dtype}`;
  return `<${dtype}`;
}
