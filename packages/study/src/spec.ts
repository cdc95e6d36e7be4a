import { closestName, listProblems } from "@trainkit/config-meta";
import * as z from "zod";
import { StudyError } from "./errors.ts";
import { METRIC_NAMES } from "./statistics.ts";
import { STEPS } from "./types.ts";

/** `90`, `"90s"`, `"30m"`, `"2h"` -> seconds. */
export function parseDurationText(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value > 0 ? value : undefined;
  if (typeof value !== "string") return undefined;
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)?$/.exec(value.trim());
  if (!m) return undefined;
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[m[2] ?? "s"] ?? 1;
  const seconds = Number(m[1]) * unit;
  return seconds > 0 ? seconds : undefined;
}

const duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const seconds = parseDurationText(value);
  if (seconds === undefined) {
    ctx.addIssue({
      code: "custom",
      message: `must be a duration such as 90, 30m or 2h, got ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return seconds;
});

const section = z.record(z.string(), z.unknown());

/** Launcher settings a job may carry (the same keys as a config file's `launcher:` section). */
const launcherSettings = {
  backend: z.enum(["embedded", "process"]).optional(),
  command: z.string().min(1).optional(),
  dialect: z.enum(["payload", "ptycho-torch"]).optional(),
  allowDropped: z.boolean().optional(),
  timeout: duration.optional(),
};

/** Values for the payload's sections, as in a `--config` file. */
const sections = {
  model: section.optional(),
  training: section.optional(),
  inference: section.optional(),
  execution: section.optional(),
};

const PartialPayloadSchema = z.strictObject(sections);
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const axisValue = z.union([scalar, z.array(scalar)]);

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const name = z.string().regex(NAME, "must be a name of letters, digits, '.', '_' or '-'");

export const StudySpecSchema = z.strictObject({
  name: name.describe("The study's name: labels, the Slurm job name, the report title."),
  description: z.string().optional(),
  outputDir: z
    .string()
    .min(1)
    .describe("Where the study writes: journal, jobs/<index>-<label>/, results, report."),
  base: z
    .strictObject({
      configs: z
        .array(z.string().min(1))
        .default([])
        .describe("Config files shared by every job, as --config."),
      ...sections,
      launcher: z.strictObject(launcherSettings).optional(),
    })
    .default({ configs: [] })
    .describe("What every job shares: config files and sectioned values (the config level)."),
  matrix: z
    .record(z.string(), z.union([z.array(axisValue).min(1), z.record(name, PartialPayloadSchema)]))
    .default({})
    .describe(
      "Axes: a payload path with a list of values (`training.nphotons: [1e4, 1e6]`), or an axis name with named partial payloads.",
    ),
  include: z.array(z.record(z.string(), axisValue)).default([]).describe("Extra combinations."),
  exclude: z.array(z.record(z.string(), axisValue)).default([]).describe("Combinations to leave out."),
  repeats: z
    .int()
    .min(1)
    .max(1000)
    .default(1)
    .describe("Replicates of every combination, each with its own seed."),
  folds: z
    .int()
    .min(2)
    .max(100)
    .nullable()
    .default(null)
    .describe("k-fold validation over the training file's scan positions."),
  jobs: z
    .record(name, z.strictObject({ ...sections, ...launcherSettings }))
    .optional()
    .describe("Named jobs (heterogeneous: each with its own backend or command), crossed with the matrix."),
  steps: z
    .array(z.enum(STEPS))
    .min(1)
    .default(["train"])
    .refine(
      (steps) => steps[0] === "train" && new Set(steps).size === steps.length,
      "must start with train and name each step once",
    )
    .describe("What each job runs: train, then optionally infer on the test file."),
  budget: z
    .strictObject({
      jobTimeout: duration.nullable().default(null),
      wallTime: duration.nullable().default(null),
      maxCost: z.number().positive().nullable().default(null),
    })
    .default({ jobTimeout: null, wallTime: null, maxCost: null }),
  cost: z
    .strictObject({ perHour: z.number().min(0) })
    .optional()
    .describe("Price of one compute-hour (for budget.maxCost)."),
  retries: z
    .int()
    .min(0)
    .max(20)
    .default(0)
    .describe("Attempts after a transient failure (exit 75, a signal, out of memory)."),
  report: z
    .strictObject({
      metric: z.enum(METRIC_NAMES).default("phaseSsim"),
      mode: z.enum(["max", "min"]).default("max"),
    })
    .default({ metric: "phaseSsim", mode: "max" }),
  slurm: z.record(z.string(), z.unknown()).optional().describe("Settings of the Slurm executor."),
});

export type StudySpec = z.output<typeof StudySpecSchema>;
export type StudySpecInput = z.input<typeof StudySpecSchema>;

/** Identity helper for studies written in code, with types. */
export function defineStudy<const T extends StudySpecInput>(spec: T): T {
  return spec;
}

export type SpecPath = readonly (string | number)[];
export interface Position {
  readonly line: number;
  readonly column: number;
}

/** A spec with where each of its values was written. */
export interface LoadedSpec {
  readonly file: string;
  readonly spec: StudySpec;
  /** The document as written (before defaults), for change detection. */
  readonly raw: unknown;
  /** SHA-256 of the spec as a canonical JSON document (formatting and comments do not count). */
  readonly sha256: string;
  /** Line and column of the value at a path (the nearest written ancestor). */
  at(path: SpecPath): Position;
  /** The text of a scalar as written (`1e4`), when it was written in a file. */
  sourceText(path: SpecPath): string | undefined;
}

const key = (path: SpecPath) => path.join("\u0000");

/** Sorted-key JSON: the same document gives the same text whatever its key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

async function sha256Hex(text: string): Promise<string> {
  const { createHash } = await import("node:crypto");
  return createHash("sha256").update(text).digest("hex");
}

function issueMessage(issue: z.core.$ZodIssue, value: unknown): string {
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((k) => `unknown key "${k}"`).join(", ");
  }
  if (issue.code === "invalid_type" && value === undefined) return "is required";
  return issue.message;
}

const TOP_KEYS = Object.keys(StudySpecSchema.shape);
const NESTED_KEYS: Readonly<Record<string, readonly string[]>> = {
  base: ["configs", "model", "training", "inference", "execution", "launcher"],
  budget: ["jobTimeout", "wallTime", "maxCost"],
  report: ["metric", "mode"],
  cost: ["perHour"],
};

/** Names an axis may not take: columns of results.csv, and the study's own label parts. */
const RESERVED_AXES = new Set([
  "index",
  "label",
  "name",
  "job",
  "repeat",
  "fold",
  "status",
  "attempts",
  "exit_code",
  "duration_s",
  "train_loss",
  "val_loss",
  "amplitude_psnr",
  "amplitude_ssim",
  "phase_psnr",
  "phase_ssim",
  "run_dir",
  "payload_sha256",
]);

function validate(raw: unknown, file: string, at: (path: SpecPath) => Position): StudySpec {
  const result = StudySpecSchema.safeParse(raw);
  if (result.success) {
    const reserved = Object.keys(result.data.matrix).filter((k) => RESERVED_AXES.has(k));
    if (reserved.length > 0) {
      const k = reserved[0] as string;
      const pos = at(["matrix", k, "#key"]);
      throw new StudyError(
        "SPEC_INVALID",
        `Study spec ${file}:${pos.line}:${pos.column}: matrix.${k}: "${k}" is a column of the results (or a part of job labels); name the axis otherwise.`,
      );
    }
    return result.data;
  }
  const problems = result.error.issues.map((issue) => {
    let path: SpecPath = issue.path as SpecPath;
    let message = issueMessage(issue, undefined);
    if (issue.code === "unrecognized_keys") {
      const unknown = issue.keys[0] ?? "";
      const parent = String(path[path.length - 1] ?? "");
      const candidates =
        path.length === 0
          ? TOP_KEYS
          : path.length === 1 && parent in NESTED_KEYS
            ? (NESTED_KEYS[parent] ?? [])
            : ["model", "training", "inference", "execution", ...Object.keys(launcherSettings)];
      const best = closestName(unknown, candidates);
      path = [...path, unknown];
      message = `unknown key "${unknown}"${best ? `. Did you mean "${best}"?` : ""}`;
    }
    const pos = at(issue.code === "unrecognized_keys" ? [...path, "#key"] : path);
    const where = path.length > 0 ? `${path.join(".")}: ` : "";
    return `${file}:${pos.line}:${pos.column}: ${where}${message}`;
  });
  throw new StudyError(
    "SPEC_INVALID",
    problems.length === 1 ? `Study spec ${problems[0]}` : listProblems(`Study spec ${file}`, problems),
  );
}

/** Parses a YAML or JSON study spec, keeping the line and column of every value. */
export async function parseStudySpec(text: string, file: string): Promise<LoadedSpec> {
  const { isMap, isScalar, isSeq, LineCounter, parseDocument } = await import("yaml");
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, version: "1.2" });
  const problem = doc.errors[0];
  if (problem) {
    const pos = lineCounter.linePos(problem.pos[0]);
    throw new StudyError(
      "SPEC_MALFORMED",
      `Study spec ${file}:${pos.line}:${pos.col}: ${problem.message.split("\n")[0] ?? problem.message}`,
      { cause: problem },
    );
  }
  const positions = new Map<string, Position>();
  const sources = new Map<string, string>();
  const walk = (node: unknown, path: SpecPath) => {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    if (range) {
      const pos = lineCounter.linePos(range[0]);
      positions.set(key(path), { line: pos.line, column: pos.col });
    }
    if (isScalar(node) && typeof node.source === "string") sources.set(key(path), node.source);
    if (isMap(node)) {
      for (const pair of node.items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        const child = [...path, k];
        const keyRange = (pair.key as { range?: [number, number, number] } | null)?.range;
        if (keyRange) {
          const pos = lineCounter.linePos(keyRange[0]);
          positions.set(`${key(child)}\u0000#key`, { line: pos.line, column: pos.col });
        }
        if (pair.value) walk(pair.value, child);
        else if (keyRange) positions.set(key(child), positions.get(`${key(child)}\u0000#key`) as Position);
      }
    } else if (isSeq(node)) {
      for (const [i, item] of node.items.entries()) walk(item, [...path, i]);
    }
  };
  walk(doc.contents, []);
  const at = (path: SpecPath): Position => {
    for (let n = path.length; n >= 0; n--) {
      const found = positions.get(key(path.slice(0, n)));
      if (found) return found;
    }
    return { line: 1, column: 1 };
  };
  const raw = doc.toJS({ maxAliasCount: 1000 }) as unknown;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new StudyError(
      "SPEC_MALFORMED",
      `Study spec ${file}:1:1: a study spec must be a mapping (name, outputDir, matrix, ...).`,
    );
  }
  const spec = validate(raw, file, at);
  return {
    file,
    spec,
    raw,
    sha256: await sha256Hex(canonicalJson(raw)),
    at,
    sourceText: (path) => sources.get(key(path)),
  };
}

/** A spec written in code: positions are unknown (1:1), the file is `<code>`. */
export async function specFromObject(input: StudySpecInput, file = "<code>"): Promise<LoadedSpec> {
  const at = () => ({ line: 1, column: 1 });
  const spec = validate(input, file, at);
  return {
    file,
    spec,
    raw: input,
    sha256: await sha256Hex(canonicalJson(input)),
    at,
    sourceText: () => undefined,
  };
}

/** Reads and parses a study spec file. */
export async function loadStudySpec(file: string): Promise<LoadedSpec> {
  const { readFile } = await import("node:fs/promises");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new StudyError(
      code === "ENOENT" ? "SPEC_NOT_FOUND" : "SPEC_MALFORMED",
      code === "ENOENT"
        ? `Study spec ${file} does not exist.`
        : `Study spec ${file} cannot be read (${code ?? String(error)}).`,
      { cause: error },
    );
  }
  return parseStudySpec(text, file);
}

/** Paths (dotted) where two spec documents differ. */
export function specDifferences(before: unknown, after: unknown, path = ""): string[] {
  const isObject = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === "object" && !Array.isArray(v);
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    return keys.flatMap((k) => specDifferences(before[k], after[k], path ? `${path}.${k}` : k));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [path || "(the whole spec)"];
}

/** The JSON Schema of a study spec (committed as schema/study-spec.schema.json, for editors). */
export function studySpecJsonSchema(): Record<string, unknown> {
  const json = z.toJSONSchema(StudySpecSchema, {
    io: "input",
    target: "draft-2020-12",
    unrepresentable: "any",
  }) as Record<string, unknown>;
  const { $schema, ...rest } = json;
  return { $schema, title: "trainkit study spec", ...rest };
}
