import { DataError, isDataError } from "./errors.ts";
import { dtypeDescr, dtypeName } from "./internal/dtypes.ts";
import type { ContractFinding, ContractFindingCode } from "./internal/findings.ts";
import { formatShape } from "./internal/format.ts";
import { nphotonsFromMetadata, parseMetadataArray } from "./metadata.ts";
import type { Dtype, NdArray } from "./ndarray.ts";
import type { Npz, NpzHeaders } from "./npz.ts";

export type { ContractFinding, ContractFindingCode } from "./internal/findings.ts";

export interface ContractReport {
  readonly errors: readonly ContractFinding[];
  readonly warnings: readonly ContractFinding[];
}

export type DataPurpose = "train" | "test";
export type DataModelType = "pinn" | "supervised";

export interface ContractOptions {
  /** The file name for messages; defaults to the file the headers or arrays were read from. */
  readonly file?: string;
  readonly purpose: DataPurpose;
  /** `supervised` training needs `Y`. Default `pinn`. */
  readonly modelType?: DataModelType;
  /**
   * Whether nphotons is set explicitly. Training reads nphotons from `_metadata`, so a pickled
   * `_metadata` (never unpickled) is an error unless it is; for test data it is a warning.
   */
  readonly nphotonsGiven?: boolean;
}

/** How to re-save an NPZ whose `_metadata` is a pickled object (two lines of numpy, in the user's trust). */
export function resaveMetadataCommand(file: string): string {
  const f = JSON.stringify(file);
  return (
    `d = dict(np.load(${f}, allow_pickle=True)); m = d["_metadata"].item()\n` +
    `np.savez(${f}, **{**d, "_metadata": np.array(m if isinstance(m, str) else json.dumps(m))})`
  );
}

/** The keys of the upstream NPZ contract (data_contracts.md §1). */
export const CONTRACT_KEYS = [
  "diffraction",
  "diff3d",
  "probeGuess",
  "xcoords",
  "ycoords",
  "objectGuess",
  "Y",
  "scan_index",
  "xcoords_start",
  "ycoords_start",
  "_metadata",
] as const;

/** One key as the rules see it: header facts, plus the array when it was loaded. */
interface Item {
  readonly key: string;
  readonly dtype: Dtype | null;
  readonly descr: string;
  readonly shape: readonly number[];
  readonly array: NdArray | undefined;
}

class Findings {
  readonly errors: ContractFinding[] = [];
  readonly warnings: ContractFinding[] = [];
  readonly file: string;

  constructor(file: string) {
    this.file = file;
  }

  error(code: ContractFindingCode, key: string, message: string): void {
    this.errors.push({ code, key, message: `${this.file}: ${message}` });
  }

  warn(code: ContractFindingCode, key: string, message: string): void {
    this.warnings.push({ code, key, message: `${this.file}: ${message}` });
  }
}

interface Context {
  readonly items: ReadonlyMap<string, Item>;
  readonly out: Findings;
  readonly purpose: DataPurpose;
  readonly modelType: DataModelType;
  readonly nphotonsGiven: boolean;
  /** The key holding the diffraction patterns (`diffraction` or legacy `diff3d`), if any. */
  diffractionKey: string | undefined;
  /** Scan positions, from the patterns or else from the first coordinate vector. */
  M: number | undefined;
  /** The key M was taken from. */
  mFrom: string;
  /** Probe size, from a square 2-D `probeGuess`. */
  N: number | undefined;
}

const INTEGERS: readonly Dtype[] = ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8"];

function describe(item: Item): string {
  return item.dtype === null ? item.descr : `${dtypeName(item.dtype)} (${item.descr})`;
}

function toItems(input: NpzHeaders | Npz): Map<string, Item> {
  const items = new Map<string, Item>();
  if ("arrays" in input) {
    for (const [key, array] of input.arrays) {
      items.set(key, { key, dtype: array.dtype, descr: dtypeDescr(array.dtype), shape: array.shape, array });
    }
  } else {
    for (const [key, h] of input.headers) {
      items.set(key, { key, dtype: h.dtype, descr: h.descr, shape: h.shape, array: undefined });
    }
  }
  return items;
}

// ---------------------------------------------------------------------------------------------
// Rules. Each looks at one concern and records findings; none throws.

/** Pickled and unreadable dtypes: errors for contract keys, warnings for others. */
function unreadableKeys(c: Context): void {
  const contract: readonly string[] = CONTRACT_KEYS;
  for (const item of c.items.values()) {
    if (item.dtype !== null) continue;
    const pickledObject = item.descr.startsWith("|O") || item.descr === "O";
    if (item.key === "_metadata" && pickledObject) {
      // Upstream's MetadataManager writes a pickled object; trainkit never unpickles.
      const needed = c.purpose === "train" && !c.nphotonsGiven;
      const report = needed ? c.out.error.bind(c.out) : c.out.warn.bind(c.out);
      report(
        "PICKLED",
        "_metadata",
        `_metadata is a pickled object (as upstream's MetadataManager writes it), which trainkit never unpickles${needed ? ", so its nphotons cannot be read; pass --nphotons N, or" : ", so it is not read (nphotons is set explicitly or not needed);"} re-save it as a JSON string with numpy (import json, numpy as np):\n${resaveMetadataCommand(c.out.file)}`,
      );
      continue;
    }
    const isContract = contract.includes(item.key);
    const report = isContract ? c.out.error.bind(c.out) : c.out.warn.bind(c.out);
    const pickled = item.descr.startsWith("|O") || item.descr === "O";
    const use = isContract ? "" : " (it is not a contract key, so training can proceed without it)";
    report(
      pickled ? "PICKLED" : "UNSUPPORTED_DTYPE",
      item.key,
      pickled
        ? `${item.key} is a pickled object array (|O), which is refused${use}; save the file without pickles (strings as str, numbers as numeric arrays).`
        : `${item.key} has dtype ${item.descr}, which cannot be read${use}; convert it before saving, e.g. arr.astype(np.float32).`,
    );
  }
}

function diffractionKey(c: Context): void {
  const current = c.items.has("diffraction");
  const legacy = c.items.has("diff3d");
  if (current && legacy) {
    c.out.error(
      "DUPLICATE_KEY",
      "diff3d",
      "both diffraction and its legacy name diff3d are present; keep only diffraction (readers disagree on which one wins).",
    );
    c.diffractionKey = "diffraction";
  } else if (legacy) {
    c.out.warn(
      "LEGACY_KEY",
      "diff3d",
      "diff3d is the legacy name of diffraction; rename the key to diffraction.",
    );
    c.diffractionKey = "diff3d";
  } else if (current) {
    c.diffractionKey = "diffraction";
  } else {
    c.out.error(
      "MISSING_KEY",
      "diffraction",
      "no diffraction array; add the (M, N, N) float32 diffraction amplitudes as diffraction.",
    );
  }
}

function requiredKeys(c: Context): void {
  const required: [string, string][] = [
    ["probeGuess", "the (N, N) complex64 probe"],
    ["xcoords", "the (M,) float64 scan x positions in pixels"],
    ["ycoords", "the (M,) float64 scan y positions in pixels"],
  ];
  if (c.modelType === "supervised" && c.purpose === "train") {
    required.push(["Y", "the (M, N, N) complex64 ground-truth patches that supervised training learns from"]);
  }
  for (const [key, what] of required) {
    if (!c.items.has(key)) c.out.error("MISSING_KEY", key, `no ${key} array; add ${what} as ${key}.`);
  }
}

/** Checks the dtype of a complex key (c8 canonical, c16 warned, anything else an error). */
function complexDtype(c: Context, item: Item, shapeText: string): void {
  if (item.dtype === null) return;
  if (item.dtype === "c16") {
    c.out.warn(
      "NONSTANDARD_DTYPE",
      item.key,
      `${item.key} is complex128; the model uses complex64, so it will be converted (save it as complex64 to halve its size).`,
    );
  } else if (item.dtype !== "c8") {
    c.out.error(
      "WRONG_DTYPE",
      item.key,
      `${item.key} has dtype ${describe(item)}; it must be complex64 ${shapeText}. Convert it with arr.astype(np.complex64).`,
    );
  }
}

function probe(c: Context): void {
  const item = c.items.get("probeGuess");
  if (!item) return;
  complexDtype(c, item, "(N, N)");
  const { shape } = item;
  if (shape.length !== 2) {
    c.out.error(
      "WRONG_RANK",
      "probeGuess",
      `probeGuess has shape ${formatShape(shape)}; the probe must be a 2-D (N, N) array.`,
    );
    return;
  }
  if (shape[0] !== shape[1]) {
    c.out.error(
      "NON_SQUARE_PROBE",
      "probeGuess",
      `probeGuess has shape ${formatShape(shape)}; the probe must be square (N x N).`,
    );
    return;
  }
  if (shape[0] === 0) {
    c.out.error(
      "EMPTY_ARRAY",
      "probeGuess",
      `probeGuess has shape ${formatShape(shape)}; the probe is empty.`,
    );
    return;
  }
  c.N = shape[0];
}

function diffraction(c: Context): void {
  const key = c.diffractionKey;
  const item = key === undefined ? undefined : c.items.get(key);
  if (key === undefined || !item) return;
  if (item.dtype === "f8") {
    c.out.warn(
      "NONSTANDARD_DTYPE",
      key,
      `${key} is float64; the model uses float32, so it will be converted (save it as float32 to halve its size).`,
    );
  } else if (item.dtype !== null && item.dtype !== "f4") {
    const counts = INTEGERS.includes(item.dtype)
      ? " Integer data are raw counts or intensities: convert to amplitudes, sqrt(intensity) normalised (scripts/tools/transpose_rename_convert_tool.py upstream)."
      : "";
    c.out.error(
      "WRONG_DTYPE",
      key,
      `${key} has dtype ${describe(item)}; it must be float32 amplitudes (M, N, N).${counts}`,
    );
  }
  const { shape } = item;
  if (shape.length !== 3) {
    c.out.error("WRONG_RANK", key, `${key} has shape ${formatShape(shape)}; it must be 3-D (M, N, N).`);
    return;
  }
  const [m, h, w] = shape as [number, number, number];
  if (h !== w) {
    const legacy =
      shape[0] === shape[1] && shape[1] !== shape[2]
        ? " It looks like the legacy (N, N, M) layout: transpose it to (M, N, N), e.g. np.transpose(a, (2, 0, 1))."
        : "";
    c.out.error(
      "SHAPE_MISMATCH",
      key,
      `${key} has shape ${formatShape(shape)}; each pattern must be square (M, N, N).${legacy}`,
    );
    return; // a wrong layout says nothing reliable about M
  }
  if (c.N !== undefined && h !== c.N) {
    c.out.error(
      "SHAPE_MISMATCH",
      key,
      `${key} has shape ${formatShape(shape)} but probeGuess is ${c.N} x ${c.N}; the patterns and the probe must have the same N.`,
    );
  }
  if (m === 0) {
    c.out.error(
      "EMPTY_ARRAY",
      key,
      `${key} has shape ${formatShape(shape)}; it holds no diffraction patterns.`,
    );
  }
  c.M = m;
  c.mFrom = key;
}

/** A (M,) vector key: coordinates or scan indices. */
function vector(c: Context, key: string, kind: "float" | "integer"): void {
  const item = c.items.get(key);
  if (!item) return;
  if (item.dtype !== null) {
    if (kind === "integer" && !INTEGERS.includes(item.dtype)) {
      c.out.error(
        "WRONG_DTYPE",
        key,
        `${key} has dtype ${describe(item)}; it must be integers (M,). Convert it with arr.astype(np.int64).`,
      );
    } else if (kind === "float" && item.dtype !== "f8") {
      if (item.dtype === "f4" || INTEGERS.includes(item.dtype)) {
        c.out.warn(
          "NONSTANDARD_DTYPE",
          key,
          `${key} is ${dtypeName(item.dtype)}; pixel positions are float64 in the contract (save them with arr.astype(np.float64)).`,
        );
      } else {
        c.out.error(
          "WRONG_DTYPE",
          key,
          `${key} has dtype ${describe(item)}; it must be float64 positions in pixels (M,).`,
        );
      }
    }
  }
  if (item.shape.length !== 1) {
    c.out.error("WRONG_RANK", key, `${key} has shape ${formatShape(item.shape)}; it must be 1-D (M,).`);
    return;
  }
  const length = item.shape[0]!;
  if (c.M === undefined) {
    c.M = length;
    c.mFrom = key;
  } else if (length !== c.M) {
    c.out.error(
      "SHAPE_MISMATCH",
      key,
      `${key} has ${length} entries but ${c.mFrom} has ${c.M}; every per-position array must have the same M.`,
    );
  }
}

function objectGuess(c: Context): void {
  const item = c.items.get("objectGuess");
  if (!item) return;
  complexDtype(c, item, "(H, W)");
  if (item.shape.length !== 2) {
    c.out.error(
      "WRONG_RANK",
      "objectGuess",
      `objectGuess has shape ${formatShape(item.shape)}; it must be a 2-D (H, W) array.`,
    );
    return;
  }
  const [h, w] = item.shape as [number, number];
  if (c.N !== undefined && (h <= c.N || w <= c.N)) {
    c.out.error(
      "OBJECT_TOO_SMALL",
      "objectGuess",
      `objectGuess has shape ${formatShape(item.shape)}; it must be larger than the ${c.N} x ${c.N} probe in both dimensions.`,
    );
  }
}

function labels(c: Context): void {
  const item = c.items.get("Y");
  if (!item) return;
  complexDtype(c, item, "(M, N, N)");
  const { shape } = item;
  if (shape.length !== 3) {
    c.out.error("WRONG_RANK", "Y", `Y has shape ${formatShape(shape)}; it must be 3-D (M, N, N).`);
    return;
  }
  const [m, h, w] = shape as [number, number, number];
  if (c.M !== undefined && m !== c.M) {
    c.out.error(
      "SHAPE_MISMATCH",
      "Y",
      `Y has ${m} patches but there are ${c.M} scan positions; they must match.`,
    );
  }
  if (c.N !== undefined && (h !== c.N || w !== c.N)) {
    c.out.error(
      "SHAPE_MISMATCH",
      "Y",
      `Y has shape ${formatShape(shape)} but probeGuess is ${c.N} x ${c.N}; Y must be (M, ${c.N}, ${c.N}).`,
    );
  }
}

function metadata(c: Context): void {
  const item = c.items.get("_metadata");
  if (!item || item.dtype === null) return;
  if (item.dtype !== "U" && item.dtype !== "S") {
    c.out.error(
      "BAD_METADATA",
      "_metadata",
      `_metadata has dtype ${describe(item)}; it must be a JSON string (np.savez(path, _metadata=json.dumps(meta))).`,
    );
    return;
  }
  if (item.shape.length > 1 || (item.shape.length === 1 && item.shape[0] !== 1)) {
    c.out.error(
      "BAD_METADATA",
      "_metadata",
      `_metadata has shape ${formatShape(item.shape)}; it must hold one JSON string (a 0-d array).`,
    );
    return;
  }
  if (!item.array) return;
  try {
    nphotonsFromMetadata(c.out.file, parseMetadataArray(c.out.file, item.array));
  } catch (error) {
    if (!isDataError(error, "BAD_METADATA")) throw error;
    // The DataError message already names the file; findings add it themselves.
    c.out.errors.push({ code: "BAD_METADATA", key: "_metadata", message: error.message });
  }
}

function floatValues(item: Item | undefined): Float32Array | Float64Array | undefined {
  const a = item?.array;
  if (!a) return undefined;
  if (a.dtype === "f2" || a.dtype === "f4" || a.dtype === "f8" || a.dtype === "c8" || a.dtype === "c16") {
    return a.data;
  }
  return undefined;
}

/** `index 17 = [0, 0, 17]` for an element of a C-ordered array (complex data: pairs of floats). */
function elementAt(item: Item, flat: number): string {
  const complex = item.array?.dtype === "c8" || item.array?.dtype === "c16";
  let rest = complex ? Math.floor(flat / 2) : flat;
  const index: number[] = [];
  for (let d = item.shape.length - 1; d >= 0; d--) {
    const size = item.shape[d]!;
    index.unshift(size > 0 ? rest % size : 0);
    rest = size > 0 ? Math.floor(rest / size) : 0;
  }
  const part = complex ? (flat % 2 === 0 ? " (real part)" : " (imaginary part)") : "";
  return `[${index.join(", ")}]${part}`;
}

/** Loaded arrays only: amplitudes finite, non-negative and amplitude-sized; other floats finite. */
function values(c: Context): void {
  const key = c.diffractionKey;
  const item = key === undefined ? undefined : c.items.get(key);
  const amplitudes = floatValues(item);
  if (key !== undefined && item && amplitudes) {
    let negative = 0;
    let nonFinite = 0;
    let firstNegative = -1;
    let firstNonFinite = -1;
    let max = Number.NEGATIVE_INFINITY;
    let min = Number.POSITIVE_INFINITY;
    for (let i = 0; i < amplitudes.length; i++) {
      const v = amplitudes[i]!;
      if (!Number.isFinite(v)) {
        if (nonFinite++ === 0) firstNonFinite = i;
      } else {
        if (v < 0 && negative++ === 0) firstNegative = i;
        if (v > max) max = v;
        if (v < min) min = v;
      }
    }
    if (nonFinite > 0) {
      c.out.error(
        "NON_FINITE",
        key,
        `${key} has ${nonFinite} NaN or infinite values, the first at index ${elementAt(item, firstNonFinite)} (${amplitudes[firstNonFinite]}); amplitudes must be finite.`,
      );
    }
    if (negative > 0) {
      c.out.error(
        "NEGATIVE_AMPLITUDE",
        key,
        `${key} has ${negative} negative values, the first at index ${elementAt(item, firstNegative)} (${amplitudes[firstNegative]}; minimum ${min}); amplitudes are sqrt(intensity) and cannot be negative.`,
      );
    }
    if (max >= 10) {
      c.out.warn(
        "LARGE_AMPLITUDE",
        key,
        `${key} has values up to ${max}; normalised amplitudes are typically below 1 (this looks like intensities or counts: take sqrt and normalise; do not pre-multiply by the photon scale).`,
      );
    }
  }
  for (const other of [
    "probeGuess",
    "xcoords",
    "ycoords",
    "xcoords_start",
    "ycoords_start",
    "objectGuess",
    "Y",
  ]) {
    const otherItem = c.items.get(other);
    const data = floatValues(otherItem);
    if (!data || !otherItem) continue;
    let nonFinite = 0;
    let first = -1;
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!) && nonFinite++ === 0) first = i;
    if (nonFinite > 0) {
      c.out.error(
        "NON_FINITE",
        other,
        `${other} has ${nonFinite} NaN or infinite values, the first at index ${elementAt(otherItem, first)} (${data[first]}); they must be finite.`,
      );
    }
  }
}

function normalise(key: string): string {
  return key.toLowerCase().replace(/[_\-\s]/g, "");
}

function suspiciousKeys(c: Context): void {
  const contract: readonly string[] = CONTRACT_KEYS;
  const byNormal = new Map(CONTRACT_KEYS.map((k) => [normalise(k), k]));
  for (const key of c.items.keys()) {
    if (contract.includes(key)) continue;
    const near = byNormal.get(normalise(key));
    if (near !== undefined && !c.items.has(near)) {
      c.out.warn("SUSPICIOUS_KEY", key, `${key} is not a contract key; did you mean ${near}?`);
    }
  }
}

/**
 * Checks headers (from `readNpzHeaders`) or loaded arrays (from `loadNpz`) against the upstream
 * NPZ data contract. Shapes and dtypes are checked in both cases; values (non-negative, finite
 * amplitudes; parseable metadata) only when the arrays are loaded. N is never hard-coded: it comes
 * from `probeGuess`. Never throws for contract problems; see `assertDataContract`.
 */
export function checkDataContract(input: NpzHeaders | Npz, options: ContractOptions): ContractReport {
  const out = new Findings(options.file ?? input.file);
  const c: Context = {
    items: toItems(input),
    out,
    purpose: options.purpose,
    modelType: options.modelType ?? "pinn",
    nphotonsGiven: options.nphotonsGiven === true,
    diffractionKey: undefined,
    M: undefined,
    mFrom: "",
    N: undefined,
  };
  unreadableKeys(c);
  diffractionKey(c);
  requiredKeys(c);
  probe(c);
  diffraction(c);
  for (const key of ["xcoords", "ycoords", "xcoords_start", "ycoords_start"]) vector(c, key, "float");
  vector(c, "scan_index", "integer");
  objectGuess(c);
  labels(c);
  metadata(c);
  values(c);
  suspiciousKeys(c);
  return { errors: out.errors, warnings: out.warnings };
}

/** Like `checkDataContract`, but throws CONTRACT_VIOLATION (with every finding) when there are errors. */
export function assertDataContract(input: NpzHeaders | Npz, options: ContractOptions): ContractReport {
  const report = checkDataContract(input, options);
  const first = report.errors[0];
  if (first) {
    const file = options.file ?? input.file;
    const more = report.errors.length - 1;
    const message = more === 0 ? first.message : `${first.message} (and ${more} more: see error.findings)`;
    throw new DataError("CONTRACT_VIOLATION", message, {
      file,
      key: first.key,
      findings: [...report.errors, ...report.warnings],
    });
  }
  return report;
}
