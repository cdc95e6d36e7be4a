// Training and test data for the engine: the NPZ arrays, neighbour groups, and per-group tensors in
// the layout the model takes ([N, N, C] per group).
import { assertDataContract, loadNpz, type NdArray, readNpzHeaders } from "@trainkit/data";
import type { TrainingConfig } from "@trainkit/training-config";
import { type GroupingResult, groupPositions } from "./loop/grouping.ts";
import { deriveSeed } from "./loop/rng.ts";

export interface ScanData {
  readonly file: string;
  /** Number of diffraction patterns. */
  readonly M: number;
  readonly N: number;
  /** Amplitudes, [M, N, N]. */
  readonly diffraction: Float32Array;
  readonly probe: { readonly re: Float32Array; readonly im: Float32Array; readonly N: number };
  readonly x: Float64Array;
  readonly y: Float64Array;
  /** Ground-truth object patches (re, im), [M, N, N], when the file has `Y`. */
  readonly groundTruth?: { readonly re: Float32Array; readonly im: Float32Array };
  /** The full object, when the file has `objectGuess` (for metrics). */
  readonly object?: {
    readonly re: Float32Array;
    readonly im: Float32Array;
    readonly H: number;
    readonly W: number;
  };
}

function real(array: NdArray, what: string): Float32Array | Float64Array {
  if (array.dtype === "f4" || array.dtype === "f8") return array.data;
  if (array.dtype === "f2") return array.data;
  throw new Error(`${what} must be a float array, got ${array.dtype}`);
}

/** The data itself when it is float32 already (no second copy of the largest array), else a copy. */
function asFloat32(data: Float32Array | Float64Array): Float32Array {
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

function complex(array: NdArray, what: string): { re: Float32Array; im: Float32Array } {
  if (array.dtype !== "c8" && array.dtype !== "c16")
    throw new Error(`${what} must be complex, got ${array.dtype}`);
  const n = array.data.length / 2;
  const re = new Float32Array(n);
  const im = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    re[i] = array.data[2 * i]!;
    im[i] = array.data[2 * i + 1]!;
  }
  return { re, im };
}

/** Reads the arrays the engine uses from an NPZ that passed the factory's contract check. */
export async function loadScanData(file: string): Promise<ScanData> {
  const headers = await readNpzHeaders(file);
  const has = (key: string) => headers.headers.has(key);
  const diffractionKey = has("diffraction") ? "diffraction" : "diff3d";
  const keys = [
    diffractionKey,
    "probeGuess",
    "xcoords",
    "ycoords",
    ...(has("Y") ? ["Y"] : []),
    ...(has("objectGuess") ? ["objectGuess"] : []),
  ];
  const npz = await loadNpz(file, { keys });
  // The launcher's preflight checked the values already; this guards callers of the engine itself.
  assertDataContract(npz, { purpose: "test" });
  const { arrays } = npz;
  const get = (key: string) => arrays.get(key)!;
  const diffraction = get(diffractionKey);
  const [M, N] = diffraction.shape as [number, number, number];
  const object = has("objectGuess") ? get("objectGuess") : undefined;
  return {
    file,
    M,
    N,
    diffraction: asFloat32(real(diffraction, diffractionKey)),
    probe: { ...complex(get("probeGuess"), "probeGuess"), N },
    x: Float64Array.from(real(get("xcoords"), "xcoords")),
    y: Float64Array.from(real(get("ycoords"), "ycoords")),
    ...(has("Y") ? { groundTruth: complex(get("Y"), "Y") } : {}),
    ...(object
      ? {
          object: {
            ...complex(object, "objectGuess"),
            H: object.shape[0] as number,
            W: object.shape[1] as number,
          },
        }
      : {}),
  };
}

/**
 * The positions `positions` (indices into `data`, ascending) of a scan as a scan of their own:
 * their patterns, coordinates and ground truth; the probe and the object are shared. Grouping a
 * subset never draws a neighbour from outside it.
 */
export function subsetScanData(data: ScanData, positions: Int32Array): ScanData {
  const NN = data.N * data.N;
  const rows = (source: Float32Array) => {
    const out = new Float32Array(positions.length * NN);
    positions.forEach((m, i) => {
      out.set(source.subarray(m * NN, (m + 1) * NN), i * NN);
    });
    return out;
  };
  return {
    ...data,
    M: positions.length,
    diffraction: rows(data.diffraction),
    x: Float64Array.from(positions, (m) => data.x[m]!),
    y: Float64Array.from(positions, (m) => data.y[m]!),
    ...(data.groundTruth
      ? { groundTruth: { re: rows(data.groundTruth.re), im: rows(data.groundTruth.im) } }
      : {}),
  };
}

export interface GroupedData {
  readonly grouping: GroupingResult;
  /** Diffraction per group, [G, N, N, C]. */
  readonly diffraction: Float32Array;
  /** Ground truth per group (re, im), [G, N, N, C], when the data has `Y`. */
  readonly groundTruth?: { readonly re: Float32Array; readonly im: Float32Array };
}

type Sampling = Pick<
  TrainingConfig,
  | "nGroups"
  | "neighborCount"
  | "nSubsample"
  | "subsampleSeed"
  | "sequentialSampling"
  | "enableOversampling"
  | "neighborPoolSize"
>;

/** Groups scan positions as upstream and gathers each group's patterns channel-last. */
export function groupScanData(
  data: ScanData,
  gridsize: number,
  sampling: Sampling,
  seed: number,
): GroupedData {
  const nGroups =
    gridsize === 1 && !sampling.enableOversampling ? Math.min(sampling.nGroups, data.M) : sampling.nGroups;
  const grouping = groupPositions({
    x: data.x,
    y: data.y,
    gridsize,
    neighborCount: sampling.neighborCount,
    nGroups,
    subsampleSeed: sampling.subsampleSeed ?? deriveSeed(seed, "subsample"),
    nSubsample: sampling.nSubsample,
    sequentialSampling: sampling.sequentialSampling,
    enableOversampling: sampling.enableOversampling,
    neighborPoolSize: sampling.neighborPoolSize,
  });
  const { C, nGroups: G, indices } = grouping;
  const NN = data.N * data.N;
  const gather = (source: Float32Array) => {
    const out = new Float32Array(G * NN * C);
    for (let g = 0; g < G; g++) {
      for (let c = 0; c < C; c++) {
        const m = indices[g * C + c]!;
        const src = m * NN;
        const base = g * NN * C + c;
        for (let p = 0; p < NN; p++) out[base + p * C] = source[src + p]!;
      }
    }
    return out;
  };
  return {
    grouping,
    diffraction: gather(data.diffraction),
    ...(data.groundTruth
      ? { groundTruth: { re: gather(data.groundTruth.re), im: gather(data.groundTruth.im) } }
      : {}),
  };
}
