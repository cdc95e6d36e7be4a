import { dirname, join } from "node:path";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { isUsageError, UsageError } from "@trainkit/config-meta/coded-error";
import { directoryProblem, isDataError, makeDirectory } from "@trainkit/data";
import {
  type OptionOrigin,
  resolveSimulationParameters,
  resolveTestCount,
  SIMULATION_DEFAULTS,
  type SimulateOptions,
  type SplitOptions,
  type WriteSimulatedDatasetOptions,
  writeSimulatedDataset,
} from "./simulate.ts";

/** Where the CLI writes: anything with a `write(text)` method, such as `process.stdout`. */
export interface CliWriter {
  write(text: string): unknown;
}

export interface CliIo {
  readonly stdout: CliWriter;
  readonly stderr: CliWriter;
}

const PROGRAM = "trainkit-datagen";

/** Exit codes: 0 success, 1 the files could not be written, 2 bad command-line input. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

const OPTIONS = {
  out: { type: "string" },
  single: { type: "string" },
  n: { type: "string" },
  positions: { type: "string" },
  overlap: { type: "string" },
  jitter: { type: "string" },
  nphotons: { type: "string" },
  seed: { type: "string" },
  "test-fraction": { type: "string" },
  "probe-diameter": { type: "string" },
  defocus: { type: "string" },
  "amplitude-min": { type: "string" },
  noiseless: { type: "boolean" },
  compress: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies NonNullable<ParseArgsConfig["options"]>;

/** Numeric flags and the option each sets. */
const NUMERIC_FLAGS = {
  n: "N",
  positions: "positions",
  overlap: "overlap",
  jitter: "jitter",
  nphotons: "nphotons",
  seed: "seed",
  "probe-diameter": "probeDiameter",
  defocus: "defocus",
  "amplitude-min": "amplitudeMin",
  "test-fraction": "testFraction",
} as const satisfies Partial<Record<keyof typeof OPTIONS, string>>;

type NumericFlag = keyof typeof NUMERIC_FLAGS;
type NumericOption = (typeof NUMERIC_FLAGS)[NumericFlag];

const FLAG_OF = Object.fromEntries(
  Object.entries(NUMERIC_FLAGS).map(([flag, name]) => [name, flag]),
) as Record<NumericOption, NumericFlag>;

const origin: OptionOrigin = (name) => {
  const flag = (FLAG_OF as Record<string, string | undefined>)[name];
  return flag === undefined ? "the command line" : `--${flag} on the command line`;
};

export const USAGE = `Usage: ${PROGRAM} --out DIR [options]
       ${PROGRAM} --single FILE [options]

Simulates a ptychography dataset that satisfies the PtychoPINN NPZ contract (diffraction amplitudes,
probeGuess, objectGuess, Y, xcoords/ycoords, _metadata) and writes DIR/train.npz and DIR/test.npz,
or one FILE with every position.

Options:
  --out DIR             folder for train.npz and test.npz (created if missing)
  --single FILE         write one file with every position instead
  --n N                 probe and pattern size, an even integer from 16 to 1024 (default ${SIMULATION_DEFAULTS.N})
  --positions M         number of scan positions (default ${SIMULATION_DEFAULTS.positions})
  --overlap F           fraction of the probe diameter neighbours share, in [0, 1) (default ${SIMULATION_DEFAULTS.overlap})
  --jitter F            random offset of each position, a fraction of the step in [0, 1] (default ${SIMULATION_DEFAULTS.jitter})
  --nphotons X          mean total counts per pattern (default 1e9)
  --seed S              random seed, an integer >= 0 (default ${SIMULATION_DEFAULTS.seed})
  --test-fraction F     share of the positions in test.npz, in (0, 1) (default ${SIMULATION_DEFAULTS.testFraction})
  --probe-diameter PX   probe aperture diameter in pixels, from 2 to N (default N/2)
  --defocus RAD         probe phase at the aperture edge in radians (default ${SIMULATION_DEFAULTS.defocus})
  --amplitude-min A     smallest object amplitude, in [0, 1); it spans [A, 1] (default ${SIMULATION_DEFAULTS.amplitudeMin})
  --noiseless           no Poisson noise: store the expected counts
  --compress            deflate the arrays, like numpy.savez_compressed
  -h, --help            show this help

Exit codes: 0 written, 1 could not write, 2 bad input (nothing is written).
`;

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function parseNumber(flag: string, text: string): number {
  if (!NUMBER.test(text.trim())) {
    throw new UsageError(`--${flag}: expected a number, got ${JSON.stringify(text)}.`);
  }
  return Number(text);
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}

interface Command {
  readonly target: { readonly out: string } | { readonly single: string };
  readonly simulation: SimulateOptions;
  readonly split: SplitOptions;
  readonly compress: boolean;
}

function parseFlags(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: OPTIONS,
    strict: true,
    allowPositionals: false,
    tokens: true,
  });
}

function parseCommand(argv: readonly string[]): Command | "help" {
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags(argv);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(`${oneLine(message).replace(/\.?$/, ".")}`);
  }
  const { values, tokens } = parsed;
  const seen = new Set<string>();
  for (const token of tokens) {
    if (token.kind !== "option") continue;
    if (seen.has(token.name)) throw new UsageError(`--${token.name} is given more than once; give it once.`);
    seen.add(token.name);
  }
  if (values.help === true) return "help";
  if (values.out === undefined && values.single === undefined) {
    throw new UsageError("give --out DIR (writes DIR/train.npz and DIR/test.npz) or --single FILE.");
  }
  if (values.out !== undefined && values.single !== undefined) {
    throw new UsageError("give either --out DIR or --single FILE, not both.");
  }
  if (values.single !== undefined && values["test-fraction"] !== undefined) {
    throw new UsageError(
      "--test-fraction splits --out DIR into train and test; --single writes one file without a split.",
    );
  }
  const target = values.out !== undefined ? { out: values.out } : { single: values.single ?? "" };
  const path = "out" in target ? target.out : target.single;
  if (path === "") throw new UsageError(`--${"out" in target ? "out" : "single"}: needs a non-empty path.`);
  const numbers: Partial<Record<NumericOption, number>> = {};
  for (const [flag, name] of Object.entries(NUMERIC_FLAGS) as [NumericFlag, NumericOption][]) {
    const text = values[flag];
    if (text !== undefined) numbers[name] = parseNumber(flag, text);
  }
  const { testFraction, ...simulation } = numbers;
  return {
    target,
    simulation: { ...simulation, ...(values.noiseless === true ? { noise: false } : {}) },
    split: testFraction === undefined ? {} : { testFraction },
    compress: values.compress === true,
  };
}

/**
 * Runs `trainkit-datagen` with `argv` (without the node and script paths) and returns the exit code.
 * Never throws: every problem is one line on `io.stderr`.
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const fail = (code: number, message: string): number => {
    io.stderr.write(`${PROGRAM}: ${oneLine(message)}\n`);
    return code;
  };
  let command: Command | "help";
  try {
    command = parseCommand(argv);
    if (command === "help") {
      io.stdout.write(USAGE);
      return EXIT.ok;
    }
    const parameters = resolveSimulationParameters(command.simulation, origin);
    if ("out" in command.target) resolveTestCount(parameters.positions, command.split, origin);
  } catch (error) {
    if (isUsageError(error)) return fail(EXIT.usage, `${error.message} Run ${PROGRAM} --help for usage.`);
    if (isDataError(error, "INVALID_OPTIONS")) return fail(EXIT.usage, error.message);
    return fail(EXIT.failed, `unexpected error: ${error instanceof Error ? error.message : String(error)}`);
  }
  const { target, simulation, split, compress } = command;
  const write: WriteSimulatedDatasetOptions =
    "out" in target
      ? {
          ...simulation,
          ...split,
          trainOut: join(target.out, "train.npz"),
          testOut: join(target.out, "test.npz"),
          compress,
        }
      : { ...simulation, out: target.single, compress };
  const folder = "out" in target ? target.out : dirname(target.single);
  // Checked before anything is made (never a recursive mkdir: it spins forever under /proc), then
  // created one level at a time. A folder that cannot be made is a usage error (exit code 2).
  const problem = (await directoryProblem(folder)) ?? (await makeDirectory(folder));
  if (problem) {
    return fail(
      EXIT.usage,
      `${folder}: cannot create the output folder: ${problem.why}. Choose another --${"out" in target ? "out" : "single"} path; nothing was written.`,
    );
  }
  try {
    const files = await writeSimulatedDataset(write);
    for (const file of files) {
      io.stdout.write(
        `wrote ${file.path}: M=${file.M} N=${file.N} nphotons=${file.nphotons} bytes=${file.bytes}\n`,
      );
    }
    return EXIT.ok;
  } catch (error) {
    if (isDataError(error)) return fail(EXIT.failed, error.message);
    const message = error instanceof Error ? error.message : String(error);
    return fail(EXIT.failed, `could not write the dataset: ${message}`);
  }
}
