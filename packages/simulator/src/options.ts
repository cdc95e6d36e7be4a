// The simulator's options as zod schemas with field metadata (`defineField`), like every other
// trainkit config: the library's validation and messages, `trainkit-datagen`'s flags, its `--help`
// and its errors all come from these definitions.

import { createSection, defineField, defineRule, type FieldMeta } from "@trainkit/config-meta";
import * as z from "zod";
import { scanLayout } from "./internal/simulate-physics.ts";

/** The most pixels (M * N * N, and H * W) a simulation may allocate: 2^26, about 800 MB of arrays. */
export const MAX_SIMULATION_PIXELS = 2 ** 26;

/** Where the field's value is recorded: its name in `_metadata.physics_parameters` (never bridged). */
function meta(
  upstream: string,
  description: string,
  extra: Omit<FieldMeta, "description" | "group" | "upstream"> = {},
): FieldMeta {
  return { description, group: "data", upstream, legacyKey: null, ...extra };
}

/**
 * A number field whose every failure (wrong type, NaN, infinity, out of range) reads `problem`,
 * as one message names the whole allowed range.
 */
function numberField(problem: string, valid: (value: number) => boolean) {
  return z.number({ error: problem }).refine(valid, { error: problem });
}

const N = defineField(
  numberField(
    "must be an even integer from 16 to 1024",
    (v) => Number.isInteger(v) && v % 2 === 0 && v >= 16 && v <= 1024,
  ).default(64),
  meta("N", "probe and pattern size, an even integer from 16 to 1024", {
    flag: "n",
    flagAliases: ["N"],
    valueName: "N",
  }),
);

const positions = defineField(
  numberField("must be a positive integer", (v) => Number.isInteger(v) && v >= 1).default(512),
  meta("n_positions", "number of scan positions", { valueName: "M" }),
);

const overlap = defineField(
  numberField(
    "must be a fraction in [0, 1) (0 = neighbouring probes just touch)",
    (v) => v >= 0 && v < 1,
  ).default(0.7),
  meta("overlap", "fraction of the probe diameter neighbours share, in [0, 1)", { valueName: "F" }),
);

const jitter = defineField(
  numberField("must be a fraction of the step in [0, 1]", (v) => v >= 0 && v <= 1).default(0.1),
  meta("jitter", "random offset of each position, a fraction of the step in [0, 1]", { valueName: "F" }),
);

const nphotons = defineField(
  numberField("must be a positive finite number", (v) => v > 0).default(1e9),
  meta("nphotons", "mean total counts per pattern", { valueName: "X" }),
);

const seed = defineField(
  numberField("must be an integer from 0 to 2^53 - 1", (v) => Number.isSafeInteger(v) && v >= 0).default(0),
  meta("seed", "random seed, an integer >= 0", { valueName: "S" }),
);

// No schema default: it is N / 2; the rule below checks its range, which depends on N.
const probeDiameter = defineField(
  numberField("must be a number of pixels from 2 to N", () => true).optional(),
  meta("probe_diameter", "probe aperture diameter in pixels, from 2 to N (default N/2)", {
    valueName: "PX",
  }),
);

const defocus = defineField(
  numberField("must be a finite number", () => true).default(3),
  meta("defocus", "probe phase at the aperture edge in radians", { valueName: "RAD" }),
);

const noise = defineField(
  z.boolean({ error: "must be true or false" }).default(true),
  meta("poisson_noise", "Poisson noise on the counts, or the expected counts when off", {
    negatedFlags: ["noiseless"],
  }),
);

const amplitudeMin = defineField(
  numberField("must be a number in [0, 1)", (v) => v >= 0 && v < 1).default(0.5),
  meta("amplitude_min", "smallest object amplitude, in [0, 1); it spans [A, 1]", { valueName: "A" }),
);

/** What `simulateDataset` accepts (`SimulateOptions`), every field with its default and metadata. */
export const SimulateOptionsSchema = z.strictObject({
  N,
  positions,
  overlap,
  jitter,
  nphotons,
  seed,
  probeDiameter,
  defocus,
  noise,
  amplitudeMin,
});

const testFraction = defineField(
  numberField("must be a fraction in (0, 1)", (v) => v > 0 && v < 1).optional(),
  meta("test_fraction", "share of the positions in test.npz, in (0, 1) (default 0.25)", {
    valueName: "F",
  }),
);

const testCount = defineField(
  numberField("must be an integer", (v) => Number.isInteger(v)).optional(),
  meta("test_count", "exact number of test positions, from 1 to M - 1"),
);

/** How a split is sized (`SplitOptions`): one of the two, `testFraction: 0.25` when neither. */
export const SplitOptionsSchema = z.strictObject({ testFraction, testCount });

/** The share of test positions when neither `testFraction` nor `testCount` is given. */
export const DEFAULT_TEST_FRACTION = 0.25;

function path(name: string, description: string, valueName: string) {
  const problem = "must be a non-empty path";
  return defineField(
    z.string({ error: problem }).min(1, { error: problem }).optional(),
    meta(name, description, { valueName }),
  );
}

const compress = defineField(
  z.boolean({ error: "must be true or false" }).default(false),
  meta("compress", "deflate the arrays, like numpy.savez_compressed"),
);

/**
 * The options of `trainkit-datagen`, in `--help` order: its flags are these fields' flags, its
 * help lines their descriptions and defaults, its value errors theirs.
 */
export const DatagenOptionsSchema = z.strictObject({
  out: path("out", "folder for train.npz and test.npz (created if missing)", "DIR"),
  single: path("single", "write one file with every position instead", "FILE"),
  N,
  positions,
  overlap,
  jitter,
  nphotons,
  seed,
  testFraction,
  probeDiameter,
  defocus,
  amplitudeMin,
  noise,
  compress,
});

type Simulation = z.output<typeof SimulateOptionsSchema>;

const probeWithinN = defineRule<Simulation>("probe diameter within N", (o) =>
  o.probeDiameter === undefined || (o.probeDiameter >= 2 && o.probeDiameter <= o.N)
    ? []
    : [
        {
          severity: "error",
          field: "probeDiameter",
          message: `must be a number of pixels from 2 to N (${o.N})`,
        },
      ],
);

const pixelBudget = defineRule<Simulation>("pixel budget", (o) => {
  const patterns = o.positions * o.N * o.N;
  if (patterns > MAX_SIMULATION_PIXELS) {
    return [
      {
        severity: "error",
        field: "positions",
        message: `must keep positions x N x N at most ${MAX_SIMULATION_PIXELS} pixels (here ${o.positions} x ${o.N} x ${o.N} = ${patterns})`,
        hint: "Use fewer positions or a smaller N.",
      },
    ];
  }
  const probe = o.probeDiameter ?? o.N / 2;
  if (probe < 2 || probe > o.N) return []; // the rule above reports it
  const { height, width } = scanLayout({ ...o, step: (1 - o.overlap) * probe });
  if (height * width > MAX_SIMULATION_PIXELS) {
    return [
      {
        severity: "error",
        field: "positions",
        message: `must keep the object at most ${MAX_SIMULATION_PIXELS} pixels (here ${height} x ${width})`,
        hint: "Use fewer positions or more overlap.",
      },
    ];
  }
  return [];
});

/** Parse, normalize and check the simulation options: the schema, then the two rules. */
export const simulationSection = createSection("options", SimulateOptionsSchema, [probeWithinN, pixelBudget]);

const oneSplitSize = defineRule<z.output<typeof SplitOptionsSchema>>("one split size", (o) =>
  o.testFraction !== undefined && o.testCount !== undefined
    ? [
        {
          severity: "error",
          field: "testCount",
          message: "cannot be given together with testFraction",
          hint: "Give one of them.",
        },
      ]
    : [],
);

export const splitSection = createSection("options", SplitOptionsSchema, [oneSplitSize]);

export const datagenSection = createSection("options", DatagenOptionsSchema, []);
