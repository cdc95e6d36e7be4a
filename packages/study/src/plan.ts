import { join } from "node:path";
import {
  type ConfigWarning,
  closestName,
  coerceFieldValue,
  isConfigError,
  listProblems,
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
  peekValue,
  type RunEnvironment,
  type Source,
  type TrainingDataFacts,
  type TrainingPayload,
  trainingDataFiles,
  withProgramValues,
} from "@trainkit/factory";
import { BACKENDS, type UnsupportedSetting, unsupportedSettings } from "@trainkit/launcher";
import { StudyError } from "./errors.ts";
import { jobCommands, payloadSha256 } from "./plan/commands.ts";
import {
  capabilitiesOf,
  type GlobalLauncherFlags,
  type JobLauncher,
  launcherEntries,
  launcherOptionsOf,
  mergeLauncher,
  pickLauncher,
} from "./plan/launcher.ts";
import {
  type Axis,
  buildAxes,
  type Combination,
  combinations,
  FIELD_PATHS,
  fieldOf,
  SECTIONS,
  safe,
  substitute,
  TRAINING,
} from "./plan/matrix.ts";
import type { LoadedSpec, SpecPath, StudySpec } from "./spec.ts";
import type { AxisValue, PlannedJob } from "./types.ts";

export { payloadSha256, planFileOf } from "./plan/commands.ts";
export type { GlobalLauncherFlags, JobLauncher } from "./plan/launcher.ts";

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

/**
 * The payload paths the global options set. A global option that sets what the study varies (an
 * axis, a named job's value, the seed of repeats, the folds, the output directory) is an error
 * naming both.
 */
function globalOptionPaths(
  spec: StudySpec,
  axes: readonly Axis[],
  folds: number | null,
  globalLayers: readonly Layer[],
): string[] {
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
  return globalPaths;
}

/** The environment and config-file layers every job starts from, and the files' launcher settings. */
async function loadBase(
  spec: StudySpec,
  sources: readonly Source[],
): Promise<{ baseLayers: Layer[]; fileLauncher: Partial<JobLauncher> }> {
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
  return { baseLayers, fileLauncher };
}

/** A job before resolution: its combination, label and layers (no inferred level yet). */
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

/** The drafts that `--where` and `--only` keep; a selection that keeps none lists what there is. */
function selectDrafts(drafts: readonly Draft[], spec: StudySpec, options: PlanOptions): readonly Draft[] {
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
  return selected;
}

/** The data facts of each selected draft, each distinct file set inspected once; every problem listed. */
async function inspectDrafts(selected: readonly Draft[]): Promise<TrainingDataFacts[]> {
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
  return dataKeys.map((k) => facts.get(k) as TrainingDataFacts);
}

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

  const globalLayers = options.layers ?? [];
  const globalPaths = globalOptionPaths(spec, axes, folds, globalLayers);

  // Base: environment, config files, global --config files, the spec's base values.
  const { baseLayers, fileLauncher } = await loadBase(spec, options.sources ?? []);
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

  const selected = selectDrafts(drafts, spec, options);

  // Data files: each distinct one checked once, every missing one listed.
  const facts = await inspectDrafts(selected);

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
    const f = facts[i] as TrainingDataFacts;
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
