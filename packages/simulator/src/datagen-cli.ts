import { dirname, join } from "node:path";
import {
  type ConfigIssue,
  closestName,
  coerceFieldValue,
  type FieldInfo,
  formatIssue,
  isUsageError,
  listFields,
  type Origin,
  UsageError,
} from "@trainkit/config-meta";
import { directoryProblem, isDataError, makeDirectory } from "@trainkit/data";
import type * as z from "zod";
import { isSimulationError } from "./errors.ts";
import { DatagenOptionsSchema, datagenSection } from "./options.ts";
import {
  resolveSimulationParameters,
  resolveTestCount,
  type SimulateOptions,
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

// Every flag comes from a field of DatagenOptionsSchema: `--<flag> VALUE`, its aliases, and for
// booleans `--<flag>`, `--no-<flag>` and the field's negated flags (`--noiseless`).
const FIELDS = listFields(DatagenOptionsSchema);

interface FlagSpec {
  readonly field: FieldInfo;
  /** The value a boolean flag sets; undefined when the flag takes a value. */
  readonly fixed?: boolean;
}

const FLAGS: ReadonlyMap<string, FlagSpec> = (() => {
  const flags = new Map<string, FlagSpec>();
  for (const field of FIELDS) {
    const boolean = field.kind === "boolean";
    const spec: FlagSpec = boolean ? { field, fixed: true } : { field };
    for (const name of [field.flag, ...(field.meta.flagAliases ?? [])]) flags.set(name, spec);
    if (!boolean) continue;
    for (const name of [`no-${field.flag}`, ...(field.meta.negatedFlags ?? [])])
      flags.set(name, { field, fixed: false });
  }
  return flags;
})();

function formatDefault(value: unknown): string {
  if (typeof value === "boolean") return value ? "on" : "off";
  if (typeof value === "number" && Math.abs(value) >= 1e6) return value.toExponential().replace("e+", "e");
  return String(value);
}

/** The help line of a field: the flags that change it, its description, its default. */
function helpLine(field: FieldInfo): readonly [string, string] {
  const changes =
    field.kind !== "boolean"
      ? `--${field.flag} ${field.meta.valueName ?? "VALUE"}`
      : field.defaultValue === true
        ? [`no-${field.flag}`, ...(field.meta.negatedFlags ?? [])].map((f) => `--${f}`).join(", ")
        : `--${field.flag}`;
  const fallback = field.hasDefault ? ` (default ${formatDefault(field.defaultValue)})` : "";
  return [changes, `${field.meta.description}${fallback}`];
}

function optionLines(): string {
  const lines = [...FIELDS.map(helpLine), ["-h, --help", "show this help"] as const];
  const width = Math.max(...lines.map(([left]) => left.length)) + 2;
  return lines.map(([left, right]) => `  ${left.padEnd(width)}${right}`).join("\n");
}

export const USAGE = `Usage: ${PROGRAM} --out DIR [options]
       ${PROGRAM} --single FILE [options]

Simulates a ptychography dataset that satisfies the PtychoPINN NPZ contract (diffraction amplitudes,
probeGuess, objectGuess, Y, xcoords/ycoords, _metadata) and writes DIR/train.npz and DIR/test.npz,
or one FILE with every position.

Options:
${optionLines()}

Exit codes: 0 written, 1 could not write, 2 bad input (nothing is written).
`;

type DatagenOptions = z.output<typeof DatagenOptionsSchema>;

interface Command {
  readonly options: DatagenOptions;
  /** Where each option came from, by field key. */
  readonly origin: (field: string) => Origin | undefined;
}

/** A value as typed, quoted when it would not read back as one word. */
function shown(raw: string): string {
  return raw === "" || /\s/.test(raw) ? `'${raw}'` : raw;
}

/**
 * Reads the flags into field values, with the token each came from. Usage errors (an unknown flag,
 * a missing value) throw; a value that is not of its field's type is an issue.
 */
function readFlags(argv: readonly string[]) {
  const values: Record<string, unknown> = {};
  const tokens = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? "";
    if (token === "-h" || token === "--help") {
      help = true;
      continue;
    }
    if (!token.startsWith("--")) {
      const spec = FLAGS.get(token);
      const next = argv[i + 1];
      const guess =
        spec === undefined
          ? ""
          : ` Did you mean --${token}${spec.fixed === undefined && next ? ` ${next}` : ""}?`;
      throw new UsageError(`unexpected argument "${token}"; ${PROGRAM} takes only options.${guess}`);
    }
    const eq = token.indexOf("=");
    const name = eq === -1 ? token.slice(2) : token.slice(2, eq);
    const spec = FLAGS.get(name);
    if (spec === undefined) {
      const best = closestName(name, [...FLAGS.keys(), "help"]);
      throw new UsageError(
        `unknown option --${name}.${best === undefined ? "" : ` Did you mean --${best}?`}`,
      );
    }
    const { field } = spec;
    const previous = tokens.get(field.key);
    if (previous !== undefined) {
      const first = previous.split(/[ =]/)[0];
      throw new UsageError(
        first === `--${name}`
          ? `--${name} is given more than once; give it once.`
          : `${first} and --${name} both set ${field.key}; give one of them.`,
      );
    }
    if (spec.fixed !== undefined) {
      if (eq !== -1) throw new UsageError(`--${name} takes no value.`);
      values[field.key] = spec.fixed;
      tokens.set(field.key, `--${name}`);
      continue;
    }
    let raw: string;
    if (eq !== -1) {
      raw = token.slice(eq + 1);
      tokens.set(field.key, `--${name}=${shown(raw)}`);
    } else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("--"))
        throw new UsageError(`--${name} needs a value (${field.meta.valueName ?? "VALUE"}).`);
      raw = next;
      i++;
      tokens.set(field.key, `--${name} ${shown(raw)}`);
    }
    const coerced = coerceFieldValue(field, raw);
    if (coerced.ok) values[field.key] = coerced.value;
    else
      issues.push({
        code: "INVALID_VALUE",
        path: field.key,
        message: coerced.message,
        hasValue: true,
        value: raw,
        origin: { kind: "cli", token: tokens.get(field.key) ?? token },
      });
  }
  const origin = (key: string): Origin | undefined => {
    const typed = tokens.get(key);
    return typed === undefined ? undefined : { kind: "cli", token: typed };
  };
  return { values, issues, help, origin };
}

/** An option problem: its issues, one line each, paths without the `options.` of the library. */
class OptionProblems extends Error {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    super("invalid options");
    this.issues = issues;
  }
}

function parseCommand(argv: readonly string[]): Command | "help" {
  const { values, issues, help, origin } = readFlags(argv);
  if (help) return "help";
  if (values.out === undefined && values.single === undefined) {
    throw new UsageError("give --out DIR (writes DIR/train.npz and DIR/test.npz) or --single FILE.");
  }
  if (values.out !== undefined && values.single !== undefined) {
    throw new UsageError("give either --out DIR or --single FILE, not both.");
  }
  if (values.single !== undefined && values.testFraction !== undefined) {
    throw new UsageError(
      "--test-fraction splits --out DIR into train and test; --single writes one file without a split.",
    );
  }
  if (issues.length > 0) throw new OptionProblems(issues);
  const parsed = datagenSection.safeParse(values, { describeOrigin: origin });
  if (!parsed.success) throw new OptionProblems(parsed.error.issues);
  return { options: parsed.data, origin };
}

function simulationOf(options: DatagenOptions): SimulateOptions {
  const { out: _out, single: _single, testFraction: _split, compress: _compress, ...simulation } = options;
  return simulation;
}

function lineOf(issue: ConfigIssue): string {
  return formatIssue({ ...issue, path: issue.path.replace(/^options\.?/, "") });
}

/**
 * Runs `trainkit-datagen` with `argv` (without the node and script paths) and returns the exit code.
 * Never throws: every problem is one line on `io.stderr`.
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const fail = (code: number, ...lines: string[]): number => {
    for (const line of lines) io.stderr.write(`${PROGRAM}: ${line.replace(/\s*\n\s*/g, " ").trim()}\n`);
    return code;
  };
  let command: Command | "help";
  try {
    command = parseCommand(argv);
    if (command === "help") {
      io.stdout.write(USAGE);
      return EXIT.ok;
    }
    const parameters = resolveSimulationParameters(simulationOf(command.options), command.origin);
    if (command.options.out !== undefined) {
      const { testFraction } = command.options;
      resolveTestCount(
        parameters.positions,
        testFraction === undefined ? {} : { testFraction },
        command.origin,
      );
    }
  } catch (error) {
    if (isUsageError(error)) return fail(EXIT.usage, `${error.message} Run ${PROGRAM} --help for usage.`);
    if (error instanceof OptionProblems) return fail(EXIT.usage, ...error.issues.map(lineOf));
    if (isSimulationError(error, "INVALID_OPTIONS")) return fail(EXIT.usage, ...error.issues.map(lineOf));
    return fail(EXIT.failed, `unexpected error: ${error instanceof Error ? error.message : String(error)}`);
  }
  const { out, single, testFraction, compress } = command.options;
  const simulation = simulationOf(command.options);
  const write: WriteSimulatedDatasetOptions =
    out !== undefined
      ? {
          ...simulation,
          ...(testFraction === undefined ? {} : { testFraction }),
          trainOut: join(out, "train.npz"),
          testOut: join(out, "test.npz"),
          compress,
        }
      : { ...simulation, out: single ?? "", compress };
  const folder = out ?? dirname(single ?? "");
  // Checked before anything is made (never a recursive mkdir: it spins forever under /proc), then
  // created one level at a time. A folder that cannot be made is a usage error (exit code 2).
  const problem = (await directoryProblem(folder)) ?? (await makeDirectory(folder));
  if (problem) {
    return fail(
      EXIT.usage,
      `${folder}: cannot create the output folder: ${problem.why}. Choose another --${out !== undefined ? "out" : "single"} path; nothing was written.`,
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
    if (isSimulationError(error) || isDataError(error)) return fail(EXIT.failed, error.message);
    const message = error instanceof Error ? error.message : String(error);
    return fail(EXIT.failed, `could not write the dataset: ${message}`);
  }
}
