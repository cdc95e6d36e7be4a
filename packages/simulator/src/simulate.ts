import { rename, rm, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { type ConfigIssue, type DescribeOrigin, type Section, sectionDefaults } from "@trainkit/config-meta";
import { isDataError, type NdArrayOf, saveNpz } from "@trainkit/data";
import type * as z from "zod";
import { invalidOptions, SimulationError } from "./errors.ts";
import {
  diffract,
  type PhysicsParameters,
  scanLayout,
  scanPositions,
  simulateObject,
  simulateProbe,
} from "./internal/simulate-physics.ts";
import {
  DEFAULT_TEST_FRACTION,
  SimulateOptionsSchema,
  type SplitOptionsSchema,
  simulationSection,
  splitSection,
} from "./options.ts";

/** What `simulateDataset` accepts; every field is optional (see `SimulateOptionsSchema`). */
export type SimulateOptions = z.input<typeof SimulateOptionsSchema>;

/** Every option resolved, plus the raster step they imply. */
export interface SimulationParameters extends PhysicsParameters {
  readonly overlap: number;
  /** Pixels between neighbouring raster points: `(1 - overlap) * probeDiameter`. */
  readonly step: number;
}

/** Defaults of `SimulateOptions` (`probeDiameter` defaults to `N / 2`), from the schema. */
export const SIMULATION_DEFAULTS: Readonly<
  Omit<Required<z.output<typeof SimulateOptionsSchema>>, "probeDiameter"> & { readonly testFraction: number }
> = Object.freeze({
  ...(sectionDefaults(SimulateOptionsSchema) as Omit<
    Required<z.output<typeof SimulateOptionsSchema>>,
    "probeDiameter"
  >),
  testFraction: DEFAULT_TEST_FRACTION,
});

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

/** How a split is sized: one of the two, default `testFraction: 0.25` (see `SplitOptionsSchema`). */
export type SplitOptions = z.input<typeof SplitOptionsSchema>;

/** One problem with one option, for `invalidOptions`. */
function issue(
  name: string,
  message: string,
  value: unknown,
  origin?: DescribeOrigin,
  hint?: string,
): ConfigIssue {
  const from = origin?.(name);
  return {
    code: "INVALID_VALUE",
    path: `options.${name}`,
    message,
    hasValue: true,
    value,
    ...(from === undefined ? {} : { origin: from }),
    ...(hint === undefined ? {} : { hint }),
  };
}

/** Parses options with a section; its issues become one `INVALID_OPTIONS` naming every problem. */
function parseOptions<S extends z.ZodObject>(
  section: Section<S>,
  input: unknown,
  what: string,
  origin: DescribeOrigin | undefined,
): z.output<S> {
  const result = section.safeParse(input, origin === undefined ? {} : { describeOrigin: origin });
  if (result.success) return result.data;
  const names = Object.keys(section.schema.shape);
  throw invalidOptions(
    result.error.issues.map((found) =>
      found.code === "UNKNOWN_KEY"
        ? {
            ...found,
            message: `is not ${what}`,
            hint: found.hint?.startsWith("Did you mean")
              ? found.hint
              : `The options are ${names.join(", ")}.`,
          }
        : found,
    ),
  );
}

/**
 * Fills in defaults and validates every option (INVALID_OPTIONS naming the option, the allowed
 * range, the value, and where it came from when `origin` says). Unknown option names are refused.
 */
export function resolveSimulationParameters(
  options: SimulateOptions = {},
  origin?: DescribeOrigin,
): SimulationParameters {
  const o = parseOptions(simulationSection, options, "a simulation option", origin);
  const probeDiameter = o.probeDiameter ?? o.N / 2;
  return { ...o, probeDiameter, step: (1 - o.overlap) * probeDiameter };
}

/**
 * The number of test positions of a split of M positions (INVALID_OPTIONS when the options are out
 * of range, or leave either side empty).
 */
export function resolveTestCount(
  positions: number,
  split: SplitOptions = {},
  origin?: DescribeOrigin,
): number {
  const { testFraction, testCount } = parseOptions(splitSection, split, "a split option", origin);
  const name = testCount === undefined ? "testFraction" : "testCount";
  const value = testCount ?? testFraction ?? DEFAULT_TEST_FRACTION;
  const count = testCount ?? Math.round(positions * value);
  if (count < 1 || count > positions - 1) {
    throw invalidOptions([
      issue(
        name,
        `must leave at least one of the ${positions} positions in each of train and test (it gives ${count} test positions)`,
        value,
        origin,
        "Use more positions or another split.",
      ),
    ]);
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
    throw invalidOptions([issue(name, "must be a non-empty file path", value)]);
  }
  return value;
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
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
        throw new SimulationError(
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
    throw invalidOptions([
      {
        code: "NOT_AN_OBJECT",
        path: "options",
        message: "must be an object with out or trainOut and testOut",
        hasValue: true,
        value: options,
      },
    ]);
  }
  const { out, trainOut, testOut, testFraction, testCount, compress, ...simulation } = options as Readonly<
    Record<string, unknown>
  >;
  if (compress !== undefined && typeof compress !== "boolean") {
    throw invalidOptions([issue("compress", "must be true or false", compress)]);
  }
  const parameters = resolveSimulationParameters(simulation as SimulateOptions);
  if (out !== undefined) {
    for (const [name, value] of Object.entries({ trainOut, testOut, testFraction, testCount })) {
      if (value !== undefined) {
        throw invalidOptions([
          issue(
            name,
            "cannot be given with out (one file holds every position)",
            value,
            undefined,
            "Drop one.",
          ),
        ]);
      }
    }
    const path = pathOption(options, "out");
    return writeAll([{ path, dataset: simulateDataset(simulation as SimulateOptions) }], compress === true);
  }
  if (trainOut === undefined && testOut === undefined) {
    throw invalidOptions([
      {
        code: "MISSING_VALUE",
        path: "options",
        message: "give out (one file) or trainOut and testOut (a train/test split), got neither",
        hasValue: false,
      },
    ]);
  }
  const trainPath = pathOption(options, "trainOut");
  const testPath = pathOption(options, "testOut");
  if (resolve(trainPath) === resolve(testPath)) {
    throw invalidOptions([issue("testOut", "must differ from trainOut", testPath)]);
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
