import { rename, rm, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { DataError, isDataError, type NdArrayOf, saveNpz } from "@trainkit/data";
import {
  diffract,
  type PhysicsParameters,
  scanLayout,
  scanPositions,
  simulateObject,
  simulateProbe,
} from "./internal/simulate-physics.ts";

/** What `simulateDataset` accepts; every field is optional. */
export interface SimulateOptions {
  /** Probe and pattern size in pixels: an even integer from 16 to 1024. Default 64. */
  readonly N?: number;
  /** Number of scan positions M, an integer >= 1. Default 512. */
  readonly positions?: number;
  /**
   * Fraction of the probe diameter that neighbouring positions share, in [0, 1): the raster step is
   * `(1 - overlap) * probeDiameter` pixels. Default 0.7.
   */
  readonly overlap?: number;
  /** Random offset of each position in each axis, uniform within `± jitter * step`; in [0, 1]. Default 0.1. */
  readonly jitter?: number;
  /** Mean total counts per diffraction pattern, > 0. Default 1e9. */
  readonly nphotons?: number;
  /** Seed of every random choice (object, positions, noise): a non-negative safe integer. Default 0. */
  readonly seed?: number;
  /** Diameter of the probe's aperture in pixels, from 2 to N. Default N / 2. */
  readonly probeDiameter?: number;
  /**
   * Probe phase at the aperture edge in radians: phase = defocus * (r / (D/2))^2, a curved wavefront
   * that spreads the far field. Default 3. (At multiples of 2π the zero-frequency pixel is dark.)
   */
  readonly defocus?: number;
  /** Poisson noise on the counts. Default true; false stores the expected counts (noiseless). */
  readonly noise?: boolean;
  /**
   * Smallest amplitude of the object, in [0, 1): the amplitude spans [amplitudeMin, 1]. Lower values
   * give more absorption contrast (a stronger amplitude signal in the diffraction). Default 0.5.
   */
  readonly amplitudeMin?: number;
}

/** Every option resolved, plus the raster step they imply. */
export interface SimulationParameters extends PhysicsParameters {
  readonly overlap: number;
  /** Pixels between neighbouring raster points: `(1 - overlap) * probeDiameter`. */
  readonly step: number;
}

/** Defaults of `SimulateOptions` (`probeDiameter` defaults to `N / 2`). */
export const SIMULATION_DEFAULTS = {
  N: 64,
  positions: 512,
  overlap: 0.7,
  jitter: 0.1,
  nphotons: 1e9,
  seed: 0,
  defocus: 3,
  noise: true,
  amplitudeMin: 0.5,
  testFraction: 0.25,
} as const;

/** The arrays of a simulated dataset, under their contract keys. */
export type SimulatedArrays = {
  /** (M, N, N) float32 amplitudes: sqrt(counts) * amplitude_scale, at most 1. */
  readonly diffraction: NdArrayOf<"f4">;
  /** (N, N) complex64 probe, peak amplitude 1. */
  readonly probeGuess: NdArrayOf<"c8">;
  /** (H, W) complex64 ground-truth object. */
  readonly objectGuess: NdArrayOf<"c8">;
  /** (M, N, N) complex64 ground-truth object patches (not exit waves). */
  readonly Y: NdArrayOf<"c8">;
  /** (M,) float64 patch centres in object pixels: column (x) and row (y). */
  readonly xcoords: NdArrayOf<"f8">;
  readonly ycoords: NdArrayOf<"f8">;
  /** (M,) float64, equal to `xcoords`/`ycoords`. */
  readonly xcoords_start: NdArrayOf<"f8">;
  readonly ycoords_start: NdArrayOf<"f8">;
  /** (M,) int64 zeros. */
  readonly scan_index: NdArrayOf<"i8">;
};

/** Which positions a dataset holds: all, or one side of `splitSimulatedDataset`. */
export type SimulationSplit = "all" | "train" | "test";

/** `_metadata` of a simulated file (JSON). */
export interface SimulationMetadata {
  readonly physics_parameters: {
    /** The requested mean total counts per pattern, over all positions before any split. */
    readonly nphotons: number;
    readonly N: number;
    readonly probe_diameter: number;
    readonly overlap: number;
    /** diffraction = sqrt(counts) * amplitude_scale (a power of two). */
    readonly amplitude_scale: number;
    readonly jitter: number;
    readonly defocus: number;
    readonly step: number;
    readonly poisson_noise: boolean;
    /** The object's amplitude spans [amplitude_min, 1]. */
    readonly amplitude_min: number;
  };
  readonly generator: "trainkit-datagen";
  readonly seed: number;
  readonly version: 1;
  readonly split: SimulationSplit;
}

/** A simulated dataset in memory. */
export interface SimulatedDataset {
  readonly parameters: SimulationParameters;
  readonly arrays: SimulatedArrays;
  readonly metadata: SimulationMetadata;
}

/** How a split is sized: one of the two, default `testFraction: 0.25`. */
export interface SplitOptions {
  /** Share of the positions in the test set, in (0, 1), rounded to the nearest count. */
  readonly testFraction?: number;
  /** Exact number of test positions, from 1 to M - 1. */
  readonly testCount?: number;
}

/**
 * Names where an option's value came from in messages (e.g. `--n on the command line`); without it
 * messages name `options.<name>`.
 */
export type OptionOrigin = (name: string) => string;

const OPTION_NAMES = [
  "N",
  "positions",
  "overlap",
  "jitter",
  "nphotons",
  "seed",
  "probeDiameter",
  "defocus",
  "noise",
  "amplitudeMin",
] as const satisfies readonly (keyof SimulateOptions)[];

/** The most pixels (M * N * N, and H * W) a simulation may allocate: 2^26, about 800 MB of arrays. */
export const MAX_SIMULATION_PIXELS = 2 ** 26;

function show(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null) return "null";
  return typeof value;
}

/** `name: problem, got value (from origin); hint.` */
function invalid(
  name: string,
  problem: string,
  value: unknown,
  origin: OptionOrigin | undefined,
  hint?: string,
): DataError {
  const where = origin === undefined ? `options.${name}` : name;
  const from = origin === undefined ? "" : ` (from ${origin(name)})`;
  const message = `${where}: ${problem}, got ${show(value)}${from}${hint === undefined ? "" : `; ${hint}`}.`;
  return new DataError("INVALID_OPTIONS", message, { key: name });
}

type NumberRule = (value: number) => boolean;

function numberOption(
  options: Readonly<Record<string, unknown>>,
  name: string,
  fallback: number,
  problem: string,
  valid: NumberRule,
  origin: OptionOrigin | undefined,
): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || !valid(value)) {
    throw invalid(name, problem, value, origin);
  }
  return value;
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Fills in defaults and validates every option (INVALID_OPTIONS naming the option, the allowed
 * range and the value). Unknown option names are refused.
 */
export function resolveSimulationParameters(
  options: SimulateOptions = {},
  origin?: OptionOrigin,
): SimulationParameters {
  if (!isRecord(options)) {
    throw new DataError(
      "INVALID_OPTIONS",
      `options: must be an object of simulation options, got ${show(options)}.`,
    );
  }
  for (const name of Object.keys(options)) {
    if (!(OPTION_NAMES as readonly string[]).includes(name)) {
      const near = OPTION_NAMES.find(
        (known) => known.toLowerCase() === name.toLowerCase().replace(/[_-]/g, ""),
      );
      const hint = near === undefined ? "" : ` Did you mean ${near}?`;
      throw new DataError(
        "INVALID_OPTIONS",
        `options.${name}: is not a simulation option; the options are ${OPTION_NAMES.join(", ")}.${hint}`,
        { key: name },
      );
    }
  }
  const D = SIMULATION_DEFAULTS;
  const N = numberOption(
    options,
    "N",
    D.N,
    "must be an even integer from 16 to 1024",
    (v) => Number.isInteger(v) && v % 2 === 0 && v >= 16 && v <= 1024,
    origin,
  );
  const positions = numberOption(
    options,
    "positions",
    D.positions,
    "must be a positive integer",
    (v) => Number.isInteger(v) && v >= 1,
    origin,
  );
  const overlap = numberOption(
    options,
    "overlap",
    D.overlap,
    "must be a fraction in [0, 1) (0 = neighbouring probes just touch)",
    (v) => v >= 0 && v < 1,
    origin,
  );
  const jitter = numberOption(
    options,
    "jitter",
    D.jitter,
    "must be a fraction of the step in [0, 1]",
    (v) => v >= 0 && v <= 1,
    origin,
  );
  const nphotons = numberOption(
    options,
    "nphotons",
    D.nphotons,
    "must be a positive finite number",
    (v) => v > 0,
    origin,
  );
  const seed = numberOption(
    options,
    "seed",
    D.seed,
    "must be an integer from 0 to 2^53 - 1",
    (v) => Number.isSafeInteger(v) && v >= 0,
    origin,
  );
  const probeDiameter = numberOption(
    options,
    "probeDiameter",
    N / 2,
    `must be a number of pixels from 2 to N (${N})`,
    (v) => v >= 2 && v <= N,
    origin,
  );
  const defocus = numberOption(options, "defocus", D.defocus, "must be a finite number", () => true, origin);
  const amplitudeMin = numberOption(
    options,
    "amplitudeMin",
    D.amplitudeMin,
    "must be a number in [0, 1)",
    (v) => v >= 0 && v < 1,
    origin,
  );
  const noise = options.noise ?? D.noise;
  if (typeof noise !== "boolean") throw invalid("noise", "must be true or false", noise, origin);
  const step = (1 - overlap) * probeDiameter;
  if (positions * N * N > MAX_SIMULATION_PIXELS) {
    throw invalid(
      "positions",
      `must keep positions x N x N at most ${MAX_SIMULATION_PIXELS} pixels (here ${positions} x ${N} x ${N} = ${positions * N * N})`,
      positions,
      origin,
      "use fewer positions or a smaller N",
    );
  }
  const layout = scanLayout({ N, positions, step, jitter });
  if (layout.height * layout.width > MAX_SIMULATION_PIXELS) {
    throw invalid(
      "positions",
      `must keep the object at most ${MAX_SIMULATION_PIXELS} pixels (here ${layout.height} x ${layout.width})`,
      positions,
      origin,
      "use fewer positions or more overlap",
    );
  }
  return { N, positions, overlap, jitter, nphotons, seed, probeDiameter, defocus, noise, amplitudeMin, step };
}

/**
 * The number of test positions of a split of M positions (INVALID_OPTIONS when the options are out
 * of range, or leave either side empty).
 */
export function resolveTestCount(positions: number, split: SplitOptions = {}, origin?: OptionOrigin): number {
  const { testFraction, testCount } = split;
  if (testFraction !== undefined && testCount !== undefined) {
    throw invalid(
      "testCount",
      "cannot be given together with testFraction; give one of them",
      testCount,
      origin,
    );
  }
  let count: number;
  let name: string;
  if (testCount !== undefined) {
    if (typeof testCount !== "number" || !Number.isInteger(testCount)) {
      throw invalid("testCount", "must be an integer", testCount, origin);
    }
    count = testCount;
    name = "testCount";
  } else {
    const fraction = testFraction ?? SIMULATION_DEFAULTS.testFraction;
    if (typeof fraction !== "number" || !Number.isFinite(fraction) || fraction <= 0 || fraction >= 1) {
      throw invalid("testFraction", "must be a fraction in (0, 1)", fraction, origin);
    }
    count = Math.round(positions * fraction);
    name = "testFraction";
  }
  if (count < 1 || count > positions - 1) {
    const value = name === "testCount" ? testCount : (testFraction ?? SIMULATION_DEFAULTS.testFraction);
    throw invalid(
      name,
      `must leave at least one of the ${positions} positions in each of train and test (it gives ${count} test positions)`,
      value,
      origin,
      "use more positions or another split",
    );
  }
  return count;
}

function metadataOf(
  p: SimulationParameters,
  amplitudeScale: number,
  split: SimulationSplit,
): SimulationMetadata {
  return {
    physics_parameters: {
      nphotons: p.nphotons,
      N: p.N,
      probe_diameter: p.probeDiameter,
      overlap: p.overlap,
      amplitude_scale: amplitudeScale,
      jitter: p.jitter,
      defocus: p.defocus,
      step: p.step,
      poisson_noise: p.noise,
      amplitude_min: p.amplitudeMin,
    },
    generator: "trainkit-datagen",
    seed: p.seed,
    version: 1,
    split,
  };
}

/**
 * Simulates a ptychography dataset in memory that satisfies the PtychoPINN NPZ contract: a smooth
 * random object, a defocused probe, a jittered raster scan, far-field patterns with Poisson noise.
 * Pure: the same options give the same arrays.
 */
export function simulateDataset(options: SimulateOptions = {}): SimulatedDataset {
  const p = resolveSimulationParameters(options);
  const layout = scanLayout(p);
  const object = simulateObject(p, layout);
  const probe = simulateProbe(p);
  const { x, y } = scanPositions(p, layout);
  const { amplitudes, patches, amplitudeScale } = diffract(p, layout, object, probe, x, y);
  const M = p.positions;
  const N = p.N;
  return {
    parameters: p,
    arrays: {
      diffraction: { dtype: "f4", shape: [M, N, N], data: amplitudes },
      probeGuess: { dtype: "c8", shape: [N, N], data: probe },
      objectGuess: { dtype: "c8", shape: [layout.height, layout.width], data: object },
      Y: { dtype: "c8", shape: [M, N, N], data: patches },
      xcoords: { dtype: "f8", shape: [M], data: x },
      ycoords: { dtype: "f8", shape: [M], data: y },
      xcoords_start: { dtype: "f8", shape: [M], data: x.slice() },
      ycoords_start: { dtype: "f8", shape: [M], data: y.slice() },
      scan_index: { dtype: "i8", shape: [M], data: new BigInt64Array(M) },
    },
    metadata: metadataOf(p, amplitudeScale, "all"),
  };
}

function slicePositions(dataset: SimulatedDataset, start: number, end: number, split: SimulationSplit) {
  const { arrays } = dataset;
  const [, N = 0] = arrays.diffraction.shape;
  const NN = N * N;
  const M = end - start;
  const coords = (array: NdArrayOf<"f8">): NdArrayOf<"f8"> => ({
    dtype: "f8",
    shape: [M],
    data: array.data.slice(start, end),
  });
  return {
    parameters: dataset.parameters,
    arrays: {
      diffraction: {
        dtype: "f4",
        shape: [M, N, N],
        data: arrays.diffraction.data.slice(start * NN, end * NN),
      },
      probeGuess: arrays.probeGuess,
      objectGuess: arrays.objectGuess,
      Y: { dtype: "c8", shape: [M, N, N], data: arrays.Y.data.slice(2 * start * NN, 2 * end * NN) },
      xcoords: coords(arrays.xcoords),
      ycoords: coords(arrays.ycoords),
      xcoords_start: coords(arrays.xcoords_start),
      ycoords_start: coords(arrays.ycoords_start),
      scan_index: { dtype: "i8", shape: [M], data: arrays.scan_index.data.slice(start, end) },
    },
    metadata: { ...dataset.metadata, split },
  } satisfies SimulatedDataset;
}

/**
 * Splits a dataset by scan order: train holds the first M - k positions (the top rows of the
 * raster), test the last k (the bottom rows), so the two sides cover different parts of the object
 * (apart from the overlap at the seam). Both share the probe, the object and the amplitude scale.
 */
export function splitSimulatedDataset(
  dataset: SimulatedDataset,
  options: SplitOptions = {},
): { readonly train: SimulatedDataset; readonly test: SimulatedDataset } {
  const M = dataset.arrays.xcoords.shape[0] ?? 0;
  const testCount = resolveTestCount(M, options);
  return {
    train: slicePositions(dataset, 0, M - testCount, "train"),
    test: slicePositions(dataset, M - testCount, M, "test"),
  };
}

/** Where `writeSimulatedDataset` writes: one file with every position, or a train/test pair. */
export type SimulationTarget =
  | { readonly out: string; readonly trainOut?: never; readonly testOut?: never }
  | ({ readonly trainOut: string; readonly testOut: string; readonly out?: never } & SplitOptions);

export type WriteSimulatedDatasetOptions = SimulateOptions &
  SimulationTarget & {
    /** Deflate the arrays, like `np.savez_compressed`. Default false. */
    readonly compress?: boolean;
  };

/** One file `writeSimulatedDataset` wrote. */
export interface WrittenSimulationFile {
  /** The path as given. */
  readonly path: string;
  readonly split: SimulationSplit;
  /** Patterns in the file. */
  readonly M: number;
  readonly N: number;
  readonly nphotons: number;
  /** Size of the file. */
  readonly bytes: number;
}

function pathOption(options: Readonly<Record<string, unknown>>, name: string): string {
  const value = options[name];
  if (typeof value !== "string" || value === "") {
    throw invalid(name, "must be a non-empty file path", value, undefined);
  }
  return value;
}

let temporaryCounter = 0;

/**
 * Writes every file under a temporary name in its folder first, then renames them into place, so a
 * failed write (a missing folder, a full disk) leaves no file behind, new or half-written.
 */
async function writeAll(
  files: readonly { path: string; dataset: SimulatedDataset }[],
  compress: boolean,
): Promise<WrittenSimulationFile[]> {
  const temporaries: string[] = [];
  try {
    for (const { path, dataset } of files) {
      const temporary = `${path}.partial-${process.pid}-${temporaryCounter++}`;
      temporaries.push(temporary);
      try {
        await saveNpz(temporary, { ...dataset.arrays }, { compress, metadata: dataset.metadata });
      } catch (error) {
        if (!isDataError(error, "WRITE_FAILED")) throw error;
        const reason = (error.cause as NodeJS.ErrnoException | undefined)?.code ?? "I/O error";
        throw new DataError(
          "WRITE_FAILED",
          `${path}: could not write the file (${reason}); check that the folder ${dirname(path)} exists and is writable. Nothing was written.`,
          { file: path, cause: error.cause },
        );
      }
    }
    const written: WrittenSimulationFile[] = [];
    for (const [i, { path, dataset }] of files.entries()) {
      await rename(temporaries[i]!, path);
      written.push({
        path,
        split: dataset.metadata.split,
        M: dataset.arrays.xcoords.shape[0] ?? 0,
        N: dataset.parameters.N,
        nphotons: dataset.parameters.nphotons,
        bytes: (await stat(path)).size,
      });
    }
    return written;
  } catch (error) {
    await Promise.all(temporaries.map((file) => rm(file, { force: true })));
    throw error;
  }
}

/**
 * Simulates a dataset and writes it with `saveNpz`: `{ out }` writes one file with every position;
 * `{ trainOut, testOut, testFraction | testCount }` writes the split of `splitSimulatedDataset`.
 * Options are validated before anything is simulated or written; the files appear together or
 * not at all.
 */
export async function writeSimulatedDataset(
  options: WriteSimulatedDatasetOptions,
): Promise<readonly WrittenSimulationFile[]> {
  if (!isRecord(options)) {
    throw new DataError("INVALID_OPTIONS", `options: must be an object with out or trainOut and testOut.`);
  }
  const { out, trainOut, testOut, testFraction, testCount, compress, ...simulation } = options as Readonly<
    Record<string, unknown>
  >;
  if (compress !== undefined && typeof compress !== "boolean") {
    throw invalid("compress", "must be true or false", compress, undefined);
  }
  const parameters = resolveSimulationParameters(simulation as SimulateOptions);
  if (out !== undefined) {
    for (const [name, value] of Object.entries({ trainOut, testOut, testFraction, testCount })) {
      if (value !== undefined) {
        throw invalid(
          name,
          "cannot be given with out (one file holds every position); drop one",
          value,
          undefined,
        );
      }
    }
    const path = pathOption(options, "out");
    return writeAll([{ path, dataset: simulateDataset(simulation as SimulateOptions) }], compress === true);
  }
  if (trainOut === undefined && testOut === undefined) {
    throw new DataError(
      "INVALID_OPTIONS",
      "options: give out (one file) or trainOut and testOut (a train/test split), got neither.",
    );
  }
  const trainPath = pathOption(options, "trainOut");
  const testPath = pathOption(options, "testOut");
  if (resolve(trainPath) === resolve(testPath)) {
    throw invalid("testOut", "must differ from trainOut", testPath, undefined);
  }
  const split = {
    ...(testFraction === undefined ? {} : { testFraction: testFraction as number }),
    ...(testCount === undefined ? {} : { testCount: testCount as number }),
  };
  resolveTestCount(parameters.positions, split);
  const { train, test } = splitSimulatedDataset(simulateDataset(simulation as SimulateOptions), split);
  return writeAll(
    [
      { path: trainPath, dataset: train },
      { path: testPath, dataset: test },
    ],
    compress === true,
  );
}
