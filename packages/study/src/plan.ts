import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  type ConfigWarning,
  closestName,
  coerceFieldValue,
  isConfigError,
  listFields,
} from "@trainkit/config-meta";
import {
  detectEnvironment,
  environmentEntries,
  type FactoryError,
  inspectTrainingData,
  isFactoryError,
  type Layer,
  type LayerEntry,
  loadConfigFile,
  loadEnvironment,
  type Origin,
  PAYLOAD_SPECS,
  peekValue,
  type RunEnvironment,
  renderPayloadDocument,
  type Source,
  type TrainingDataFacts,
  type TrainingPayload,
  trainingDataFiles,
  withProgramValues,
} from "@trainkit/factory";
import {
  BACKENDS,
  type BackendName,
  type Capability,
  type UnsupportedSetting,
  unsupportedSettings,
} from "@trainkit/launcher";
import { listProblems, StudyError } from "./errors.ts";
import type { LoadedSpec, SpecPath, StudySpec } from "./spec.ts";
import type { AxisValue, JobCommand, PlannedJob } from "./types.ts";

/** Launcher settings of a job (not part of its payload). */
export interface JobLauncher {
  readonly backend: BackendName;
  readonly command?: string;
  readonly dialect?: "payload" | "ptycho-torch";
  readonly allowDropped?: boolean;
  /** Seconds. */
  readonly timeout?: number;
}

/** Launcher flags typed on the study's command line (they apply to every job). */
export interface GlobalLauncherFlags {
  readonly backend?: string;
  readonly command?: string;
  readonly dialect?: string;
  readonly allowDropped?: boolean;
  readonly timeout?: number;
}

export interface PlanOptions {
  /** Global flags as layers (override and execution levels), e.g. from cli-kit's `parseArgv`. */
  readonly layers?: readonly Layer[];
  /** Global config sources: `--config` files (after the spec's base configs) and the environment. */
  readonly sources?: readonly Source[];
  readonly launcher?: GlobalLauncherFlags;
  /** `--where PATH=VALUE`, all must hold. */
  readonly where?: readonly string[];
  /** `--only NAME`: named jobs to keep. */
  readonly only?: readonly string[];
  /** `--folds K`: overrides the spec's folds. */
  readonly folds?: number;
  /** Record settings a job's backend cannot honour as dropped instead of refusing them. */
  readonly allowDropped?: boolean;
  /** Machine facts for the inferred level (jobs run without a terminal). */
  readonly environment?: RunEnvironment;
  /** Indices of an earlier plan by job key, so that indices and directories stay stable. */
  readonly previousIndices?: ReadonlyMap<string, number>;
  /** How to start `trainkit-train` and `trainkit-infer` (argv prefixes). */
  readonly programs?: { readonly train: readonly string[]; readonly infer: readonly string[] };
}

/** A job with what the planner knows beyond `PlannedJob`. */
export interface StudyJob extends PlannedJob {
  /** Identity of the combination (axis values, job name, repeat, fold), independent of indices. */
  readonly key: string;
  readonly launcher: JobLauncher;
  /** Settings dropped for this job (`--allow-dropped`). */
  readonly dropped: readonly UnsupportedSetting[];
  /** For each global option path: whether this job's backend honours it. */
  readonly globalSupport: Readonly<Record<string, boolean>>;
  /** Inference config file contents for the infer step (written by the runner), if any. */
  readonly inferConfig?: Readonly<Record<string, unknown>>;
}

export interface StudyPlan {
  readonly spec: LoadedSpec;
  /** The selected jobs, in index order. */
  readonly jobs: readonly StudyJob[];
  /** How many jobs the spec has before selection. */
  readonly total: number;
  /** Axis names in spec order (`job` first when the spec has named jobs); repeats and folds are not axes. */
  readonly axes: readonly string[];
  /** Paths set by global options. */
  readonly globalPaths: readonly string[];
  readonly warnings: readonly ConfigWarning[];
}

interface AxisOption {
  readonly display: string;
  /** For path axes: the value; for named axes: the partial payload. */
  readonly value: unknown;
  /** Where the value was written. */
  readonly where: SpecPath;
}

interface Axis {
  readonly key: string;
  /** Short name in labels. */
  readonly short: string;
  readonly kind: "path" | "named";
  /** Canonical payload path of a path axis. */
  readonly path?: string;
  readonly options: readonly AxisOption[];
}

interface Combination {
  readonly picks: readonly (AxisOption | undefined)[];
  readonly name: string | null;
  readonly repeat: number | null;
  readonly fold: number | null;
  /** Where an include entry was written (its origin for values not on an axis). */
  readonly include?: number;
}

const TRAINING = PAYLOAD_SPECS.training;
const SECTIONS = Object.keys(TRAINING.sections);

/** Canonical paths of every training-payload field, and alias paths to their canonical path. */
const FIELD_PATHS: ReadonlyMap<string, string> = (() => {
  const map = new Map<string, string>();
  for (const [name, section] of Object.entries(TRAINING.sections)) {
    for (const field of listFields(section.schema)) {
      map.set(`${name}.${field.key}`, `${name}.${field.key}`);
      for (const alias of field.meta.aliases ?? []) map.set(`${name}.${alias.name}`, `${name}.${field.key}`);
    }
  }
  return map;
})();

function fieldOf(path: string) {
  const [section, key] = path.split(".") as [string, string];
  const schema = TRAINING.sections[section]?.schema;
  return schema ? listFields(schema).find((f) => f.key === key) : undefined;
}

function displayOf(value: unknown, written: string | undefined): string {
  if (written !== undefined && /^[^\s'"]+$/.test(written)) return written;
  if (Array.isArray(value)) return value.map((v) => displayOf(v, undefined)).join("+");
  return String(value);
}

function safe(text: string): string {
  return text.replace(/[^A-Za-z0-9._=,+-]/g, "_");
}

function buildAxes(loaded: LoadedSpec): Axis[] {
  const { spec } = loaded;
  const problems: string[] = [];
  const axes: Axis[] = [];
  for (const [key, values] of Object.entries(spec.matrix)) {
    const pos = loaded.at(["matrix", key]);
    if (Array.isArray(values)) {
      const path = FIELD_PATHS.get(key);
      if (!path) {
        const best = closestName(key, FIELD_PATHS.keys());
        problems.push(
          `${loaded.file}:${pos.line}:${pos.column}: matrix.${key}: ${key.includes(".") ? `"${key}" is not a training payload setting` : `an axis named "${key}" needs named values (name: {section: {...}}), or use a payload path such as training.nphotons`}.${best ? ` Did you mean "${best}"?` : ""}`,
        );
        continue;
      }
      const options = values.map((value, i) => ({
        display: displayOf(value, loaded.sourceText(["matrix", key, i])),
        value,
        where: ["matrix", key, i] as SpecPath,
      }));
      const seen = new Set<string>();
      for (const o of options) {
        if (seen.has(o.display)) {
          const at = loaded.at(o.where);
          problems.push(
            `${loaded.file}:${at.line}:${at.column}: matrix.${key}: the value ${o.display} is listed twice.`,
          );
        }
        seen.add(o.display);
      }
      axes.push({ key, short: key.split(".").pop() ?? key, kind: "path", path, options });
    } else {
      const names = Object.keys(values);
      if (names.length === 0) {
        problems.push(
          `${loaded.file}:${pos.line}:${pos.column}: matrix.${key}: an axis needs at least one value.`,
        );
        continue;
      }
      if (key.includes(".")) {
        problems.push(
          `${loaded.file}:${pos.line}:${pos.column}: matrix.${key}: a payload path takes a list of values; named values need an axis name without dots.`,
        );
        continue;
      }
      axes.push({
        key,
        short: key,
        kind: "named",
        options: names.map((name) => ({ display: name, value: values[name], where: ["matrix", key, name] })),
      });
    }
  }
  const shorts = new Map<string, number>();
  for (const a of axes) shorts.set(a.short, (shorts.get(a.short) ?? 0) + 1);
  if (problems.length > 0) throw new StudyError("AXIS_PATH_UNKNOWN", listProblems("Study matrix", problems));
  return axes.map((a) => ((shorts.get(a.short) ?? 0) > 1 ? { ...a, short: a.key } : a));
}

function matches(axis: Axis, option: AxisOption, wanted: unknown): boolean {
  if (axis.kind === "named") return option.display === String(wanted);
  return JSON.stringify(option.value) === JSON.stringify(wanted) || option.display === String(wanted);
}

function combinations(loaded: LoadedSpec, axes: readonly Axis[], folds: number | null): Combination[] {
  const { spec } = loaded;
  const problems: string[] = [];
  const checkKeys = (entry: Record<string, unknown>, where: string, i: number) => {
    for (const k of Object.keys(entry)) {
      if (!axes.some((a) => a.key === k)) {
        const at = loaded.at([where, i, k]);
        const best = closestName(
          k,
          axes.map((a) => a.key),
        );
        problems.push(
          `${loaded.file}:${at.line}:${at.column}: ${where}[${i}]: "${k}" is not an axis.${best ? ` Did you mean "${best}"?` : ""}`,
        );
      }
    }
  };
  for (const [i, e] of spec.exclude.entries()) checkKeys(e, "exclude", i);
  for (const [i, e] of spec.include.entries()) checkKeys(e, "include", i);

  const points: { picks: (AxisOption | undefined)[]; include?: number }[] = [];
  const walk = (depth: number, picks: AxisOption[]) => {
    if (depth === axes.length) {
      points.push({ picks: [...picks] });
      return;
    }
    for (const option of (axes[depth] as Axis).options) walk(depth + 1, [...picks, option]);
  };
  if (axes.length > 0) walk(0, []);
  else points.push({ picks: [] });
  const excluded = (picks: readonly (AxisOption | undefined)[]) =>
    spec.exclude.some((e) =>
      Object.entries(e).every(([k, v]) => {
        const i = axes.findIndex((a) => a.key === k);
        const pick = picks[i];
        return pick !== undefined && matches(axes[i] as Axis, pick, v);
      }),
    );
  const kept = points.filter((p) => !excluded(p.picks));
  spec.include.forEach((entry, n) => {
    const picks = axes.map((axis): AxisOption | undefined => {
      if (!(axis.key in entry)) return undefined;
      const wanted = entry[axis.key];
      const found = axis.options.find((o) => matches(axis, o, wanted));
      if (found) return found;
      if (axis.kind === "named") {
        const at = loaded.at(["include", n, axis.key]);
        problems.push(
          `${loaded.file}:${at.line}:${at.column}: include[${n}].${axis.key}: "${String(wanted)}" is not one of ${axis.options.map((o) => o.display).join(", ")}.`,
        );
        return undefined;
      }
      return {
        display: displayOf(wanted, loaded.sourceText(["include", n, axis.key])),
        value: wanted,
        where: ["include", n, axis.key],
      };
    });
    const same = kept.find((p) => p.picks.every((pick, i) => pick?.display === picks[i]?.display));
    if (!same) kept.push({ picks, include: n });
  });
  if (problems.length > 0) throw new StudyError("SPEC_INVALID", listProblems("Study spec", problems));

  const names: (string | null)[] = spec.jobs ? Object.keys(spec.jobs) : [null];
  const out: Combination[] = [];
  for (const name of names) {
    for (const point of kept) {
      for (let r = 0; r < spec.repeats; r++) {
        for (let f = 0; f < (folds ?? 1); f++) {
          out.push({
            picks: point.picks,
            name,
            repeat: spec.repeats > 1 ? r : null,
            fold: folds ? f : null,
            ...(point.include !== undefined ? { include: point.include } : {}),
          });
        }
      }
    }
  }
  return out;
}

const TEMPLATE = /\{([A-Za-z_][A-Za-z0-9_.]*)\}/g;

/** Replaces `{axis}` in every string of a value; unknown names are collected. */
function substitute(value: unknown, names: ReadonlyMap<string, string>, unknown: Set<string>): unknown {
  if (typeof value === "string") {
    return value.replace(TEMPLATE, (whole, name: string) => {
      const found = names.get(name);
      if (found === undefined) {
        unknown.add(name);
        return whole;
      }
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, names, unknown));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, names, unknown)]));
  }
  return value;
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The payload document's hash, as the launcher records it in manifest.json (`payloadSha256`). */
export function payloadSha256(payload: TrainingPayload): string {
  return sha256(renderPayloadDocument(payload));
}

/** The launcher settings of a base config file's `launcher:` section. */
function launcherEntries(layer: Layer): Partial<JobLauncher> {
  const out: Record<string, unknown> = {};
  for (const entry of layer.entries)
    if (entry.path.startsWith("launcher.")) out[entry.path.slice(9)] = entry.value;
  return out as Partial<JobLauncher>;
}

interface Selection {
  readonly path: string;
  readonly raw: string;
}

function parseWhere(where: readonly string[]): Selection[] {
  return where.map((text) => {
    const at = text.indexOf("=");
    const path = at > 0 ? FIELD_PATHS.get(text.slice(0, at)) : undefined;
    if (at <= 0)
      throw new StudyError(
        "SELECTION_EMPTY",
        `--where needs PATH=VALUE, e.g. --where training.nphotons=1e4; got "${text}".`,
      );
    if (!path) {
      const best = closestName(text.slice(0, at), FIELD_PATHS.keys());
      throw new StudyError(
        "SELECTION_EMPTY",
        `--where ${text}: "${text.slice(0, at)}" is not a setting.${best ? ` Did you mean ${best}?` : ""}`,
      );
    }
    return { path, raw: text.slice(at + 1) };
  });
}

function sameAsRaw(path: string, value: unknown, raw: string): boolean {
  const field = fieldOf(path);
  if (field) {
    const coerced = coerceFieldValue(field, raw);
    if (coerced.ok) return JSON.stringify(coerced.value) === JSON.stringify(value);
  }
  return String(value) === raw;
}

const capabilityCache = new Map<string, Promise<readonly Capability[]>>();

/**
 * Plans a study: every job's payload resolved through the factory (full audit, study origins),
 * selected, checked against its backend, with its commands. Reads each data file once; writes
 * nothing. Throws `StudyError` (spec, selection, data, capabilities) listing every problem.
 */
export async function planStudy(loaded: LoadedSpec, options: PlanOptions = {}): Promise<StudyPlan> {
  const { spec } = loaded;
  const folds = options.folds ?? spec.folds;
  const axes = buildAxes(loaded);
  const combos = combinations(loaded, axes, folds);
  const file = loaded.file;
  // One origin object per place in the spec, shared by every job it sets (the factory shares the
  // audit entries of values that come from one origin).
  const origins = new Map<string, Origin>();
  const studyOrigin = (where: SpecPath, axis: string): Origin => {
    const key = `${where.join("\u0000")}\u0000\u0000${axis}`;
    let origin = origins.get(key);
    if (!origin) {
      const pos = loaded.at(where);
      origin = Object.freeze({ kind: "study", file, line: pos.line, column: pos.column, axis });
      origins.set(key, origin);
    }
    return origin;
  };

  // Global options: what they set, and collisions with what the study varies.
  const globalLayers = options.layers ?? [];
  const globalPaths = [
    ...new Set(globalLayers.flatMap((l) => l.entries.map((e) => FIELD_PATHS.get(e.path) ?? e.path))),
  ];
  const globalToken = (path: string) => {
    for (const layer of globalLayers)
      for (const e of layer.entries)
        if ((FIELD_PATHS.get(e.path) ?? e.path) === path)
          return e.origin.kind === "cli" ? e.origin.token : path;
    return path;
  };
  const collisions: string[] = [];
  const varied = new Map<string, string>();
  for (const axis of axes) {
    if (axis.kind === "path" && axis.path) varied.set(axis.path, `matrix axis ${axis.key}`);
    else
      for (const o of axis.options)
        for (const [section, fields] of Object.entries(
          (o.value ?? {}) as Record<string, Record<string, unknown>>,
        ))
          for (const k of Object.keys(fields ?? {})) {
            const p = FIELD_PATHS.get(`${section}.${k}`) ?? `${section}.${k}`;
            varied.set(p, `matrix axis ${axis.key} (value ${o.display})`);
          }
  }
  for (const [name, job] of Object.entries(spec.jobs ?? {}))
    for (const section of SECTIONS)
      for (const k of Object.keys(
        (job as Record<string, Record<string, unknown> | undefined>)[section] ?? {},
      ))
        varied.set(FIELD_PATHS.get(`${section}.${k}`) ?? `${section}.${k}`, `named job ${name}`);
  if (spec.repeats > 1)
    varied.set("execution.seed", `repeats: ${spec.repeats} (each repeat has its own seed)`);
  if (folds) {
    varied.set("training.foldCount", "folds");
    varied.set("training.foldIndex", "folds");
  }
  varied.set("training.outputDir", "the study (each job writes to <outputDir>/jobs/<index>-<label>)");
  for (const path of globalPaths) {
    const by = varied.get(path);
    if (by) collisions.push(`"${globalToken(path)}" sets ${path}, which the study varies through ${by}.`);
  }
  if (collisions.length > 0) {
    throw new StudyError(
      "FLAG_COLLIDES",
      listProblems("Global options collide with the study", collisions) +
        "\nRemove the option, or the axis from the spec.",
    );
  }

  // Base: environment, config files, global --config files, the spec's base values.
  const sources = options.sources ?? [];
  const envSource = sources.find((s) => s.kind === "env");
  const baseLayers: Layer[] = [];
  if (envSource?.kind === "env") baseLayers.push(loadEnvironment(envSource.env ?? process.env));
  const configFiles = [...spec.base.configs, ...sources.flatMap((s) => (s.kind === "file" ? [s.path] : []))];
  let fileLauncher: Partial<JobLauncher> = {};
  for (const path of configFiles) {
    try {
      const layer = await loadConfigFile(path);
      baseLayers.push(layer);
      fileLauncher = { ...fileLauncher, ...launcherEntries(layer) };
    } catch (error) {
      if (isFactoryError(error))
        throw new StudyError("SPEC_INVALID", `base.configs: ${(error as FactoryError).message}`, {
          cause: error,
        });
      throw error;
    }
  }
  // The spec's base values, each with its origin; an entry whose value has no template is shared by
  // every job.
  const baseValues = (["model", "training", "execution", "inference"] as const).flatMap((section) =>
    Object.entries(spec.base[section] ?? {}).map(([k, v]) => {
      const pos = loaded.at(["base", section, k]);
      const entry: LayerEntry = {
        path: `${section}.${k}`,
        value: v,
        origin: Object.freeze({ kind: "file", file, line: pos.line, column: pos.column }),
      };
      return entry;
    }),
  );
  const baseEntries = (names: ReadonlyMap<string, string>, unknown: Set<string>): LayerEntry[] =>
    baseValues.map((entry) => {
      const value = substitute(entry.value, names, unknown);
      return value === entry.value ? entry : { ...entry, value };
    });

  // Every job's layers (no inferred level yet).
  const environment = options.environment ?? { ...detectEnvironment(), isTTY: false };
  const machine = environmentEntries(environment);
  const labelAxes = [...axes.map((a) => a.key)];
  if (spec.jobs) labelAxes.unshift("job");
  const templateProblems = new Map<string, Set<string>>();

  interface Draft {
    readonly combo: Combination;
    readonly key: string;
    readonly label: string;
    readonly variation: string;
    readonly axes: Record<string, AxisValue>;
    readonly layers: Layer[];
    readonly launcher: JobLauncher;
    readonly inferConfig?: Record<string, unknown>;
  }
  const drafts: Draft[] = [];
  for (const combo of combos) {
    const names = new Map<string, string>();
    const axisValues: Record<string, AxisValue> = {};
    const labelParts: string[] = [];
    if (combo.name !== null) {
      names.set("job", combo.name);
      axisValues.job = combo.name;
      labelParts.push(`job=${combo.name}`);
    }
    combo.picks.forEach((pick, i) => {
      const axis = axes[i] as Axis;
      if (!pick) return;
      names.set(axis.key, pick.display);
      if (axis.path) names.set(axis.path, pick.display);
      axisValues[axis.key] =
        axis.kind === "named"
          ? pick.display
          : Array.isArray(pick.value)
            ? pick.display
            : (pick.value as AxisValue);
      labelParts.push(`${axis.short}=${pick.display}`);
    });
    const variation = safe(labelParts.join(",")) || "base";
    if (combo.repeat !== null) {
      names.set("repeat", String(combo.repeat + 1));
      labelParts.push(`rep=${combo.repeat + 1}`);
    }
    if (combo.fold !== null) {
      names.set("fold", String(combo.fold));
      labelParts.push(`fold=${combo.fold}`);
    }
    const label = safe(labelParts.join(",")).slice(0, 100) || "base";
    const unknown = new Set<string>();
    const override: LayerEntry[] = [];
    const job = combo.name !== null ? spec.jobs?.[combo.name] : undefined;
    if (job) {
      for (const section of SECTIONS) {
        for (const [k, v] of Object.entries(
          (job as Record<string, Record<string, unknown> | undefined>)[section] ?? {},
        )) {
          override.push({
            path: `${section}.${k}`,
            value: substitute(v, names, unknown),
            origin: studyOrigin(["jobs", combo.name as string, section, k], `jobs.${combo.name}`),
          });
        }
      }
    }
    let inferConfig: Record<string, unknown> | undefined = spec.base.inference
      ? { ...spec.base.inference }
      : undefined;
    combo.picks.forEach((pick, i) => {
      const axis = axes[i] as Axis;
      if (!pick) return;
      if (axis.kind === "path") {
        override.push({
          path: axis.path as string,
          value: pick.value,
          origin: studyOrigin(pick.where, axis.key),
        });
        return;
      }
      for (const [section, fields] of Object.entries(pick.value as Record<string, Record<string, unknown>>)) {
        if (section === "inference") {
          inferConfig = {
            ...inferConfig,
            ...(substitute(fields, names, unknown) as Record<string, unknown>),
          };
          continue;
        }
        for (const [k, v] of Object.entries(fields ?? {})) {
          override.push({
            path: `${section}.${k}`,
            value: substitute(v, names, unknown),
            origin: studyOrigin([...pick.where, section, k], axis.key),
          });
        }
      }
    });
    if (job?.inference)
      inferConfig = {
        ...inferConfig,
        ...(substitute(job.inference, names, unknown) as Record<string, unknown>),
      };
    const base = baseEntries(names, unknown);
    if (unknown.size > 0) {
      for (const name of unknown)
        templateProblems.set(name, (templateProblems.get(name) ?? new Set()).add(label));
    }
    // Repeats get distinct seeds: the seed the job would have otherwise, plus the repeat number.
    const draftLayers: Layer[] = [
      ...baseLayers,
      { level: "config", entries: base.filter((e) => !e.path.startsWith("inference.")) },
      { level: "override", entries: override },
    ];
    if (combo.repeat !== null) {
      const seed = peekValue(TRAINING, draftLayers, "execution.seed")?.value;
      override.push({
        path: "execution.seed",
        value: (typeof seed === "number" ? seed : 0) + combo.repeat,
        origin: studyOrigin(["repeats"], `repeats (repeat ${combo.repeat + 1} of ${spec.repeats})`),
      });
    }
    if (combo.fold !== null && folds) {
      const origin: Origin =
        options.folds !== undefined
          ? { kind: "cli", token: `--folds ${folds}` }
          : studyOrigin(["folds"], `folds (fold ${combo.fold} of ${folds})`);
      override.push({ path: "training.foldCount", value: folds, origin });
      override.push({ path: "training.foldIndex", value: combo.fold, origin });
    }
    const launcher: JobLauncher = {
      backend: "embedded",
      ...fileLauncher,
      ...(spec.base.launcher ?? {}),
      ...(job ? pickLauncher(job) : {}),
    } as JobLauncher;
    const key = JSON.stringify([
      combo.name,
      combo.picks.map((p) => p?.display ?? null),
      combo.repeat,
      combo.fold,
    ]);
    drafts.push({
      combo,
      key,
      label,
      variation,
      axes: axisValues,
      layers: [...draftLayers, ...globalLayers],
      launcher,
      ...(inferConfig ? { inferConfig } : {}),
    });
  }
  if (templateProblems.size > 0) {
    const available = [
      ...new Set([
        ...axes.flatMap((a) => (a.path ? [a.key] : [a.key])),
        ...(spec.jobs ? ["job"] : []),
        ...(spec.repeats > 1 ? ["repeat"] : []),
        ...(folds ? ["fold"] : []),
      ]),
    ];
    throw new StudyError(
      "TEMPLATE_UNKNOWN",
      listProblems(
        `Study spec ${file}`,
        [...templateProblems.keys()].map((name) => {
          const best = closestName(name, available);
          return `the template {${name}} names no axis${best ? ` (did you mean {${best}}?)` : ""}; available: ${available.map((a) => `{${a}}`).join(", ") || "none (the matrix is empty)"}`;
        }),
      ),
    );
  }

  // Selection.
  const selections = parseWhere(options.where ?? []);
  const only = options.only ?? [];
  if (only.length > 0) {
    const known = Object.keys(spec.jobs ?? {});
    const bad = only.filter((n) => !known.includes(n));
    if (bad.length > 0)
      throw new StudyError(
        "SELECTION_EMPTY",
        `--only ${bad.join(", ")}: ${known.length === 0 ? "the spec has no named jobs" : `not a named job; the spec's jobs are ${known.join(", ")}`}.`,
      );
  }
  const defaults = new Map<string, unknown>();
  const currentValue = (draft: Draft, path: string): unknown => {
    const found = peekValue(TRAINING, draft.layers, path);
    if (found) return found.value;
    if (!defaults.has(path)) defaults.set(path, fieldOf(path)?.defaultValue);
    return defaults.get(path);
  };
  const selected = drafts.filter(
    (d) =>
      (only.length === 0 || (d.combo.name !== null && only.includes(d.combo.name))) &&
      selections.every((s) => sameAsRaw(s.path, currentValue(d, s.path), s.raw)),
  );
  if (selected.length === 0 && drafts.length > 0) {
    const lines = selections.map((s) => {
      const values = [...new Set(drafts.map((d) => JSON.stringify(currentValue(d, s.path))))];
      return `${s.path}: the jobs have ${values.join(", ")}`;
    });
    throw new StudyError(
      "SELECTION_EMPTY",
      `No job matches ${[...(options.where ?? []).map((w) => `--where ${w}`), ...only.map((o) => `--only ${o}`)].join(" ")}.${lines.length > 0 ? `\n${lines.map((l) => `  - ${l}`).join("\n")}` : ""}`,
    );
  }

  // Data files: each distinct one checked once, every missing one listed.
  const factsByKey = new Map<string, Promise<TrainingDataFacts | FactoryError>>();
  const dataKeys = selected.map((d) => {
    const files = trainingDataFiles(d.layers);
    const k = JSON.stringify([files.train?.value, files.test?.value, files.modelType]);
    if (!factsByKey.has(k)) {
      factsByKey.set(
        k,
        inspectTrainingData(files).catch((error: unknown) => {
          if (isFactoryError(error)) return error;
          throw error;
        }),
      );
    }
    return k;
  });
  const facts = new Map<string, TrainingDataFacts | FactoryError>();
  for (const [k, p] of factsByKey) facts.set(k, await p);
  const dataProblems = new Map<string, string[]>();
  selected.forEach((d, i) => {
    const f = facts.get(dataKeys[i] as string);
    if (f instanceof Error) dataProblems.set(f.message, [...(dataProblems.get(f.message) ?? []), d.label]);
  });
  if (dataProblems.size > 0) {
    throw new StudyError(
      "DATA_MISSING",
      listProblems(
        "Data files of the study",
        [...dataProblems].map(
          ([message, labels]) =>
            `${message} (job${labels.length > 1 ? "s" : ""} ${labels.slice(0, 5).join("; ")}${labels.length > 5 ? `; and ${labels.length - 5} more` : ""})`,
        ),
      ),
    );
  }

  // Indices: stable across re-plans (an earlier plan's index wins), else matrix order.
  const previous = options.previousIndices ?? new Map<string, number>();
  let next = Math.max(-1, ...previous.values()) + 1;
  const allIndices = new Map<string, number>();
  for (const d of drafts) {
    const known = previous.get(d.key);
    allIndices.set(d.key, known ?? next++);
  }

  // Resolve, check capabilities, hash.
  const jobProblems: string[] = [];
  const jobs: StudyJob[] = [];
  const globalLauncher = options.launcher ?? {};
  const programs = options.programs ?? { train: ["trainkit-train"], infer: ["trainkit-infer"] };
  const warnings: ConfigWarning[] = [];
  for (let i = 0; i < selected.length; i++) {
    const d = selected[i] as Draft;
    const index = allIndices.get(d.key) as number;
    const dir = join(spec.outputDir, "jobs", `${String(index).padStart(4, "0")}-${d.label}`);
    const f = facts.get(dataKeys[i] as string) as TrainingDataFacts;
    const outputLayer: Layer = {
      level: "override",
      entries: [
        {
          path: "training.outputDir",
          value: dir,
          origin: studyOrigin(["outputDir"], "outputDir (the job's directory)"),
        },
      ],
    };
    const launcher = mergeLauncher(d.launcher, globalLauncher, d.label, jobProblems);
    const layers = [
      ...d.layers.slice(0, d.layers.length - globalLayers.length),
      outputLayer,
      ...globalLayers,
    ];
    const programValues = BACKENDS[launcher.backend].programValues?.(launcherOptionsOf(launcher), "training");
    const resolveJob = (jobLayers: readonly Layer[], warnings: readonly ConfigWarning[]): TrainingPayload =>
      withProgramValues("training", jobLayers, [...machine, ...f.inferred], warnings, programValues);
    let payload: TrainingPayload;
    try {
      payload = resolveJob(layers, f.warnings);
    } catch (error) {
      if (isConfigError(error)) {
        jobProblems.push(`job ${index} (${d.label}): ${error.message.replace(/\n/g, "\n    ")}`);
        continue;
      }
      throw error;
    }
    const caps = await capabilitiesOf(launcher, payload);
    let unsupported = unsupportedSettings(payload, caps);
    const dropped: UnsupportedSetting[] = [];
    const globalSupport: Record<string, boolean> = {};
    for (const path of globalPaths) globalSupport[path] = !unsupported.some((u) => u.path === path);
    if (unsupported.length > 0 && (options.allowDropped || launcher.allowDropped)) {
      // Drop the global options this backend cannot honour, for this job only.
      const drop = new Set(unsupported.filter((u) => globalPaths.includes(u.path)).map((u) => u.path));
      if (drop.size > 0) {
        const kept = globalLayers.map((l) => ({
          level: l.level,
          entries: l.entries.filter((e) => !drop.has(FIELD_PATHS.get(e.path) ?? e.path)),
        }));
        const dropWarnings: ConfigWarning[] = unsupported
          .filter((u) => drop.has(u.path))
          .map((u) => ({
            code: "IGNORED_SETTING",
            path: u.path,
            message: `${u.path} = ${JSON.stringify(u.value)} (from ${u.origin}) was dropped for this job by the study (--allow-dropped): the ${launcher.backend} backend supports ${u.supported}.`,
          }));
        dropped.push(...unsupported.filter((u) => drop.has(u.path)));
        payload = resolveJob(
          [...d.layers.slice(0, d.layers.length - globalLayers.length), outputLayer, ...kept],
          [...f.warnings, ...dropWarnings],
        );
        unsupported = unsupportedSettings(payload, caps);
      }
    }
    if (unsupported.length > 0) {
      for (const u of unsupported)
        jobProblems.push(
          `job ${index} (${d.label}): the ${launcher.backend} backend cannot honour ${u.path} = ${JSON.stringify(u.value)} (from ${u.origin}): supported ${u.supported}.${u.hint ? ` ${u.hint}` : ""}`,
        );
      continue;
    }
    const sha = payloadSha256(payload);
    const commands = jobCommands(
      spec,
      dir,
      sha,
      payload,
      launcher,
      programs,
      d.inferConfig !== undefined,
      jobProblems,
      index,
      d.label,
    );
    jobs.push({
      index,
      key: d.key,
      label: d.label,
      dir,
      axes: d.axes,
      variation: d.variation,
      repeat: d.combo.repeat === null ? null : d.combo.repeat + 1,
      fold: d.combo.fold,
      name: d.combo.name,
      payload,
      sha256: sha,
      commands,
      launcher,
      dropped,
      globalSupport,
      ...(d.inferConfig ? { inferConfig: d.inferConfig } : {}),
    });
    if (i === 0) warnings.push(...payload.warnings);
  }
  if (jobProblems.length > 0) {
    const shown = groupProblems(jobProblems).slice(0, 20);
    throw new StudyError(
      jobProblems.some((p) => p.includes("cannot honour")) ? "UNSUPPORTED_SETTINGS" : "JOB_INVALID",
      listProblems(`${jobProblems.length === 1 ? "A job" : "Jobs"} of study ${spec.name} cannot run`, shown) +
        (groupProblems(jobProblems).length > shown.length
          ? `\n  ... and ${groupProblems(jobProblems).length - shown.length} more`
          : "") +
        (jobProblems.some((p) => p.includes("cannot honour")) && !options.allowDropped
          ? "\nUse --allow-dropped to run those jobs without the global options their backend cannot honour (recorded as dropped)."
          : ""),
    );
  }
  jobs.sort((a, b) => a.index - b.index);
  return { spec: loaded, jobs, total: drafts.length, axes: labelAxes, globalPaths, warnings };
}

/** Problems that every job shares are said once, with the jobs they concern. */
function groupProblems(problems: readonly string[]): string[] {
  const groups = new Map<string, string[]>();
  for (const p of problems) {
    const m = /^job (\S+) \(([^)]*)\): ([\s\S]*)$/.exec(p);
    const message = m ? (m[3] as string) : p;
    groups.set(message, [...(groups.get(message) ?? []), m ? `${m[1]}` : ""]);
  }
  return [...groups].map(([message, jobs]) =>
    jobs.length === 1
      ? (problems.find((p) => p.endsWith(message)) ?? message)
      : `jobs ${jobs.length > 6 ? `${jobs.slice(0, 3).join(", ")}, ... ${jobs.at(-1)} (${jobs.length} jobs)` : jobs.join(", ")}: ${message}`,
  );
}

function pickLauncher(job: Record<string, unknown>): Partial<JobLauncher> {
  const out: Record<string, unknown> = {};
  for (const k of ["backend", "command", "dialect", "allowDropped", "timeout"])
    if (job[k] !== undefined) out[k] = job[k];
  return out as Partial<JobLauncher>;
}

function mergeLauncher(
  job: JobLauncher,
  global: GlobalLauncherFlags,
  label: string,
  problems: string[],
): JobLauncher {
  const out: Record<string, unknown> = { ...job };
  for (const [k, v] of Object.entries(global)) {
    if (v === undefined) continue;
    out[k] = v;
  }
  if (out.backend !== "embedded" && out.backend !== "process") {
    problems.push(
      `job ${label}: --backend ${String(out.backend)}: must be one of ${Object.keys(BACKENDS).join(", ")}`,
    );
    out.backend = "embedded";
  }
  if (out.backend === "process" && !out.command)
    problems.push(`job ${label}: the process backend needs a command (command: in the job, or --command)`);
  return out as unknown as JobLauncher;
}

function launcherOptionsOf(launcher: JobLauncher): Record<string, unknown> {
  if (launcher.backend !== "process") return {};
  return {
    command: launcher.command,
    dialect: launcher.dialect ?? "payload",
    allowDropped: launcher.allowDropped === true,
    timeout: launcher.timeout ?? null,
    graceSeconds: 10,
  };
}

async function capabilitiesOf(
  launcher: JobLauncher,
  payload: TrainingPayload,
): Promise<readonly Capability[]> {
  const options = launcherOptionsOf(launcher);
  const key = JSON.stringify([launcher.backend, options]);
  let found = capabilityCache.get(key);
  if (!found) {
    found = Promise.resolve(BACKENDS[launcher.backend].capabilities(options, payload));
    capabilityCache.set(key, found);
  }
  return found;
}

/** Launcher flags for a job's train step. */
function launcherFlags(launcher: JobLauncher): string[] {
  if (launcher.backend !== "process") return [];
  return [
    "--backend",
    "process",
    "--command",
    launcher.command as string,
    ...(launcher.dialect ? ["--dialect", launcher.dialect] : []),
    ...(launcher.allowDropped ? ["--allow-dropped"] : []),
    ...(launcher.timeout ? ["--timeout", String(launcher.timeout)] : []),
  ];
}

/** Where the study keeps what it writes for a job outside its run directory. */
export function planFileOf(outputDir: string, index: number, what: string): string {
  return join(outputDir, "plan", `${String(index).padStart(4, "0")}.${what}`);
}

function jobCommands(
  spec: StudySpec,
  dir: string,
  sha: string,
  payload: TrainingPayload,
  launcher: JobLauncher,
  programs: { readonly train: readonly string[]; readonly infer: readonly string[] },
  hasInferConfig: boolean,
  problems: string[],
  index: number,
  label: string,
): JobCommand[] {
  const commands: JobCommand[] = [
    {
      step: "train",
      argv: [
        ...programs.train,
        "--payload",
        join(dir, "payload.json"),
        "--payload-sha256",
        sha,
        ...launcherFlags(launcher),
      ],
    },
  ];
  if (spec.steps.includes("infer")) {
    const test = payload.config.training.testDataFile;
    if (!test)
      problems.push(`job ${index} (${label}): steps include infer but training.testDataFile is not set`);
    if (launcher.backend !== "embedded")
      problems.push(
        `job ${index} (${label}): the infer step runs the embedded engine on the job's model bundle; the ${launcher.backend} backend writes none`,
      );
    commands.push({
      step: "infer",
      argv: [
        ...programs.infer,
        "--from-run",
        dir,
        "--model-path",
        dir,
        "--test-data-file",
        test ?? "",
        "--output-dir",
        join(dir, "infer"),
        "--overwrite",
        ...(hasInferConfig ? ["--config", planFileOf(spec.outputDir, index, "infer.json")] : []),
      ],
    });
  }
  return commands;
}
