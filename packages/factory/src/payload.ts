import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { ConfigIssue, ConfigWarning } from "@trainkit/config-meta";
import { ConfigError, listProblems, renderValue } from "@trainkit/config-meta";
import {
  type DataFileFacts,
  type InferredValue,
  inspectDataFile,
  isDataError,
  readModelBundle,
} from "@trainkit/data";
import type { ExecutionConfig, ExecutionConfigInput } from "@trainkit/execution-config";
import type {
  InferenceConfig,
  InferenceConfigInput,
  ModelConfig,
  ModelConfigInput,
  TrainingConfig,
  TrainingConfigInput,
} from "@trainkit/training-config";
import { match } from "ts-pattern";
import type { AuditEntry } from "./audit.ts";
import { detectEnvironment, environmentEntries, inferredLayer, type RunEnvironment } from "./environment.ts";
import { FactoryError } from "./errors.ts";
import { codeLayer, type Layer, type LayerEntry } from "./layer.ts";
import { type LegacyParams, loadLegacyParamsFile, toLegacyParams } from "./legacy.ts";
import { describeOrigin, levelRank, type Origin } from "./levels.ts";
import { PAYLOAD_SPECS, type PayloadKind } from "./payload-spec.ts";
import { peekValue, resolve } from "./resolve.ts";
import { loadConfigFile, loadEnvironment, loadRunDirectory, orderSources, type Source } from "./sources.ts";

export interface TrainingPayloadConfig {
  readonly model: ModelConfig;
  readonly training: TrainingConfig;
  readonly execution: ExecutionConfig;
}

export interface InferencePayloadConfig {
  readonly model: ModelConfig;
  readonly inference: InferenceConfig;
  readonly execution: ExecutionConfig;
}

/** One validated job description with its audit trail and its legacy dictionary. */
export interface Payload<K extends PayloadKind, C> {
  readonly kind: K;
  readonly config: C;
  /** One entry per leaf, in schema order: value, level, origin and what it shadowed. */
  readonly audit: readonly AuditEntry[];
  readonly warnings: readonly ConfigWarning[];
  /** Upstream-compatible flat map of every value set above the default level. */
  readonly overridesApplied: Readonly<Record<string, unknown>>;
  /** The flat `params.cfg` dictionary for legacy readers (never holds execution fields). */
  readonly legacy: LegacyParams;
}

export type TrainingPayload = Payload<"training", TrainingPayloadConfig>;
export type InferencePayload = Payload<"inference", InferencePayloadConfig>;
export type AnyPayload = TrainingPayload | InferencePayload;

interface CommonOptions {
  readonly execution?: ExecutionConfigInput;
  /** Config files, environment, legacy params, a previous run: all at the `config` level. */
  readonly sources?: readonly Source[];
  /** Layers built elsewhere (e.g. the command line), at any level. */
  readonly layers?: readonly Layer[];
  /** Machine facts for the `inferred` level; detected when absent. */
  readonly environment?: RunEnvironment;
  /**
   * What the program that will run the payload uses for settings nobody set (e.g. upstream's
   * ptycho_torch.train). Called with the payload resolved without them; each entry it returns for a
   * field still at the `default` level is added at the `inferred` level and the payload resolved
   * again, so the payload, the audit and the legacy dictionary say what the program really uses.
   */
  readonly programValues?: (
    config: Readonly<Record<string, Readonly<Record<string, unknown>>>>,
  ) => readonly LayerEntry[];
}

export interface TrainingPayloadOptions extends CommonOptions {
  readonly trainDataFile?: string;
  readonly outputDir?: string;
  readonly overrides?: { readonly model?: ModelConfigInput; readonly training?: TrainingConfigInput };
}

export interface InferencePayloadOptions extends CommonOptions {
  readonly modelPath?: string;
  readonly testDataFile?: string;
  readonly outputDir?: string;
  readonly overrides?: { readonly model?: ModelConfigInput; readonly inference?: InferenceConfigInput };
}

/**
 * Resolves layers into a payload: validation, audit, warnings and the legacy dictionary. Pure: no
 * files are read (the inferred layer must already be among `layers`).
 */
export function resolvePayload<K extends PayloadKind>(
  kind: K,
  layers: readonly Layer[],
  warnings: readonly ConfigWarning[] = [],
): K extends "training" ? TrainingPayload : InferencePayload {
  const resolution = resolve<Record<string, Record<string, unknown>>>(PAYLOAD_SPECS[kind], layers);
  // The legacy dictionary is made when first read: a job's own process bridges it, once; a planner
  // resolving 10,000 payloads never needs it.
  let legacy: Payload<PayloadKind, unknown>["legacy"] | undefined;
  const payload: Payload<PayloadKind, unknown> = {
    kind,
    config: resolution.config,
    audit: resolution.audit,
    warnings: [...warnings, ...resolution.warnings],
    overridesApplied: resolution.overridesApplied,
    get legacy() {
      legacy ??= toLegacyParams(kind, resolution.config);
      return legacy;
    },
  };
  return payload as K extends "training" ? TrainingPayload : InferencePayload;
}

async function gatherLayers(
  kind: PayloadKind,
  options: CommonOptions & { readonly overrides?: object | undefined },
  args: Readonly<Record<string, string | undefined>>,
): Promise<{ layers: Layer[]; warnings: ConfigWarning[] }> {
  const layers: Layer[] = [];
  const warnings: ConfigWarning[] = [];
  for (const source of orderSources(options.sources ?? [])) {
    // Exhaustive: a new source kind that is not read here fails to compile instead of being skipped.
    const loaded = await match(source)
      .with({ kind: "file" }, async (s) => ({
        layer: s.layer ?? (await loadConfigFile(s.path)),
        warnings: [],
      }))
      .with({ kind: "env" }, async (s) => ({ layer: loadEnvironment(s.env ?? process.env), warnings: [] }))
      .with({ kind: "legacy" }, (s) => loadLegacyParamsFile(s.path, kind))
      .with({ kind: "run" }, async (s) => ({ layer: await loadRunDirectory(s.dir), warnings: [] }))
      .exhaustive();
    layers.push(loaded.layer);
    warnings.push(...loaded.warnings);
  }
  layers.push(...(options.layers ?? []));
  layers.push(
    codeLayer(
      "override",
      "overrides",
      options.overrides as Record<string, Record<string, unknown>> | undefined,
    ),
  );
  layers.push(
    codeLayer("execution", "execution", options.execution ? { execution: options.execution } : undefined),
  );
  const argEntries: LayerEntry[] = Object.entries(args)
    .filter(([, value]) => value !== undefined)
    .map(([path, value]) => ({
      path,
      value,
      origin: { kind: "code", argument: path.split(".")[1] ?? path },
    }));
  layers.push({ level: "override", entries: argEntries });
  return { layers, warnings };
}

/**
 * Opens a data file once: checks that it exists and follows the data contract, and with `infer`
 * also reads N from the probe and nphotons from its metadata. Returns the contract's warnings and
 * the inferred values; throws `FactoryError` (`DATA_NOT_FOUND`, `DATA_INVALID`) for the file and the
 * contract, then the `DataError` of an inferred value, in that order.
 */
export async function readDataFile(
  path: string,
  origin: Origin,
  field: string,
  modelType: unknown,
  options: {
    readonly nphotonsGiven?: boolean;
    readonly probeSize?: boolean;
    readonly nphotons?: boolean;
  } = {},
): Promise<{
  readonly warnings: ConfigWarning[];
  readonly probeSize?: InferredValue<number>;
  readonly nphotons?: InferredValue<number>;
}> {
  const where = `${field} (${describeOrigin(origin)})`;
  let facts: DataFileFacts;
  try {
    facts = await inspectDataFile(path, {
      file: path,
      purpose: field.startsWith("training.train") ? "train" : "test",
      modelType: modelType === "supervised" ? "supervised" : "pinn",
      nphotonsGiven: options.nphotonsGiven === true,
      probeSize: options.probeSize === true,
      // A pickled _metadata is only reported (by the contract) when nphotons is given: never unpickled.
      nphotons: options.nphotons === true && options.nphotonsGiven !== true,
    });
  } catch (error) {
    if (isDataError(error, "FILE_NOT_FOUND")) {
      throw new FactoryError("DATA_NOT_FOUND", `${where}: ${path} does not exist.`, { cause: error });
    }
    throw new FactoryError("DATA_INVALID", `${where}: ${(error as Error).message}`, { cause: error });
  }
  const { report } = facts;
  if (report.errors.length > 0) {
    throw new FactoryError(
      "DATA_INVALID",
      listProblems(
        where,
        report.errors.map((e) => e.message),
      ),
    );
  }
  if (facts.probeSize && !facts.probeSize.ok) throw facts.probeSize.error;
  if (facts.nphotons && !facts.nphotons.ok) throw facts.nphotons.error;
  const warnings = report.warnings.map(
    (w): ConfigWarning => ({ code: "DATA_CONTRACT", path: field, message: w.message }),
  );
  const probeSize = facts.probeSize?.ok ? facts.probeSize.value : undefined;
  const nphotons = facts.nphotons?.ok ? facts.nphotons.value : undefined;
  return { warnings, ...(probeSize ? { probeSize } : {}), ...(nphotons ? { nphotons } : {}) };
}

/** Checks that a data file exists and follows the data contract; returns the contract's warnings. */
export async function checkDataFile(
  path: string,
  origin: Origin,
  field: string,
  modelType: unknown,
  nphotonsGiven = false,
): Promise<ConfigWarning[]> {
  return (await readDataFile(path, origin, field, modelType, { nphotonsGiven })).warnings;
}

function peekString(kind: PayloadKind, layers: readonly Layer[], path: string) {
  const found = peekValue(PAYLOAD_SPECS[kind], layers, path);
  return found && typeof found.value === "string" && found.value !== ""
    ? { value: found.value, origin: found.origin }
    : undefined;
}

/** What a training payload learns from its data files before resolution. */
export interface TrainingDataFacts {
  /** Data-contract warnings. */
  readonly warnings: readonly ConfigWarning[];
  /** `inferred`-level values from the data (`model.N`, `training.nphotons`). */
  readonly inferred: readonly LayerEntry[];
}

/**
 * Checks a training payload's data files against the data contract and infers what the training
 * file says (`N` from the probe, `nphotons` from its metadata). `createTrainingPayload` calls it once
 * per payload; a study calls it once per distinct file set and reuses the answer for every job.
 * Throws `FactoryError` (`DATA_NOT_FOUND`, `DATA_INVALID`).
 */
export async function inspectTrainingData(files: {
  readonly train?: { readonly value: string; readonly origin: Origin } | undefined;
  readonly test?: { readonly value: string; readonly origin: Origin } | undefined;
  readonly modelType?: unknown;
  /** Whether some layer sets `training.nphotons` (then a pickled `_metadata` is never read). */
  readonly nphotonsGiven?: boolean;
}): Promise<TrainingDataFacts> {
  const warnings: ConfigWarning[] = [];
  const inferred: LayerEntry[] = [];
  const { train, test, modelType } = files;
  const nphotonsGiven = files.nphotonsGiven === true;
  if (train) {
    // One opening of the training file: headers, contract, N and nphotons.
    const facts = await readDataFile(train.value, train.origin, "training.trainDataFile", modelType, {
      nphotonsGiven,
      probeSize: true,
      nphotons: true,
    });
    warnings.push(...facts.warnings);
    const { probeSize, nphotons } = facts;
    if (probeSize)
      inferred.push({
        path: "model.N",
        value: probeSize.value,
        origin: { kind: "inferred", from: probeSize.source },
      });
    if (nphotons) {
      inferred.push({
        path: "training.nphotons",
        value: nphotons.value,
        origin: { kind: "inferred", from: nphotons.source },
      });
    }
  }
  if (test)
    warnings.push(...(await checkDataFile(test.value, test.origin, "training.testDataFile", modelType)));
  return { warnings, inferred };
}

/** The data files (and model type) a training payload's layers point at, before resolution. */
export function trainingDataFiles(layers: readonly Layer[]): {
  readonly train: { readonly value: string; readonly origin: Origin } | undefined;
  readonly test: { readonly value: string; readonly origin: Origin } | undefined;
  readonly modelType: unknown;
  readonly nphotonsGiven: boolean;
} {
  return {
    train: peekString("training", layers, "training.trainDataFile"),
    test: peekString("training", layers, "training.testDataFile"),
    modelType: peekValue(PAYLOAD_SPECS.training, layers, "model.modelType")?.value,
    nphotonsGiven: peekValue(PAYLOAD_SPECS.training, layers, "training.nphotons") !== undefined,
  };
}

/**
 * Builds a validated training payload `{ model, training, execution }` from every level: `overrides`
 * (and the `trainDataFile`/`outputDir` arguments), `execution`, `sources`, values inferred from the
 * training data and the machine, and the schema defaults. Throws `ConfigError` (validation) or
 * `FactoryError` (sources and data files).
 */
export async function createTrainingPayload(options: TrainingPayloadOptions = {}): Promise<TrainingPayload> {
  const { layers, warnings } = await gatherLayers("training", options, {
    "training.trainDataFile": options.trainDataFile,
    "training.outputDir": options.outputDir,
  });
  const facts = await inspectTrainingData(trainingDataFiles(layers));
  const inferred = [...environmentEntries(options.environment ?? detectEnvironment()), ...facts.inferred];
  return withProgramValues(
    "training",
    layers,
    inferred,
    [...warnings, ...facts.warnings],
    options.programValues,
  );
}

/**
 * Resolves, then adds the program's values (an external program's own defaults, `programValues`)
 * for fields still at their default, at the inferred level, and resolves again.
 */
export function withProgramValues<K extends PayloadKind>(
  kind: K,
  layers: readonly Layer[],
  inferred: readonly LayerEntry[],
  warnings: readonly ConfigWarning[],
  programValues: CommonOptions["programValues"],
): K extends "training" ? TrainingPayload : InferencePayload {
  const first = resolvePayload(kind, [...layers, inferredLayer(inferred)], warnings);
  if (!programValues) return first;
  const atDefault = new Set(first.audit.filter((a) => a.level === "default").map((a) => a.path));
  const config = first.config as unknown as Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  const extra = programValues(config).filter((e) => atDefault.has(e.path));
  if (extra.length === 0) return first;
  return resolvePayload(kind, [...layers, inferredLayer([...inferred, ...extra])], warnings);
}

/**
 * Builds a validated inference payload `{ model, inference, execution }`. The model section comes
 * from the bundle saved by training (at the `inferred` level); an explicit model value that
 * disagrees with the bundle is a `ConfigError` naming both values and where each came from.
 */
export async function createInferencePayload(
  options: InferencePayloadOptions = {},
): Promise<InferencePayload> {
  const { layers, warnings } = await gatherLayers("inference", options, {
    "inference.modelPath": options.modelPath,
    "inference.testDataFile": options.testDataFile,
    "inference.outputDir": options.outputDir,
  });
  const inferred: LayerEntry[] = environmentEntries(options.environment ?? detectEnvironment());
  const modelPath = peekString("inference", layers, "inference.modelPath");
  let bundle: BundleSource | undefined;
  let bundleModel: Record<string, unknown> = {};
  if (modelPath) {
    bundle = await loadBundle(modelPath.value, modelPath.origin);
    bundleModel = bundleModelSection(bundle);
    const from = `${bundle.file}:payload.json`;
    for (const [key, value] of Object.entries(bundleModel)) {
      inferred.push({
        path: `model.${key}`,
        value,
        origin: { kind: "inferred", from: `${from} model.${key}` },
      });
    }
  }
  const test = peekString("inference", layers, "inference.testDataFile");
  let probe: { value: number; source: string } | undefined;
  if (test) {
    // One opening of the test file: headers, contract and N.
    const facts = await readDataFile(
      test.value,
      test.origin,
      "inference.testDataFile",
      bundleModel.modelType,
      {
        probeSize: true,
      },
    );
    warnings.push(...facts.warnings);
    probe = facts.probeSize;
  }
  const payload = withProgramValues("inference", layers, inferred, warnings, options.programValues);
  const issues: ConfigIssue[] = [];
  if (bundle) {
    for (const entry of payload.audit) {
      const [section, key] = entry.path.split(".") as [string, string];
      if (section !== "model" || !(key in bundleModel)) continue;
      if (levelRank(entry.level) >= levelRank("inferred")) continue;
      if (JSON.stringify(entry.value) === JSON.stringify(bundleModel[key])) continue;
      issues.push({
        code: "CONFLICT",
        path: entry.path,
        message: `disagrees with the model bundle ${bundle.file}, which was trained with ${renderValue(bundleModel[key])}`,
        hasValue: true,
        value: entry.value,
        origin: entry.origin,
        hint: "Inference uses the model's own settings: drop the explicit value.",
      });
    }
  }
  if (probe && probe.value !== payload.config.model.N) {
    issues.push({
      code: "CONFLICT",
      path: "inference.testDataFile",
      message: `has ${probe.value}x${probe.value} patterns (${probe.source}) but the model expects N = ${payload.config.model.N}`,
      hasValue: true,
      value: payload.config.inference.testDataFile,
      hint: "Use test data simulated or cropped to the model's N.",
    });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return payload;
}

/** Upstream's model bundle, which a run of ptycho_torch.train writes (reference 9.3). */
export const UPSTREAM_BUNDLE_FILE = "wts.h5.zip";

/**
 * A run directory trained through the process backend by upstream's program: `wts.h5.zip` (whose
 * `params.dill` is a pickle trainkit never loads) beside trainkit's own `payload.json`, which says
 * what the program used. The model section comes from that payload.
 */
async function loadUpstreamRun(dir: string, where: string): Promise<BundleSource | undefined> {
  const bundle = join(dir, UPSTREAM_BUNDLE_FILE);
  if (!(await stat(bundle).catch(() => undefined))?.isFile()) return undefined;
  const file = join(dir, "payload.json");
  let payload: unknown;
  try {
    payload = JSON.parse(await readFile(file, "utf8"));
  } catch {
    throw new FactoryError(
      "MODEL_NOT_FOUND",
      `${where}: ${dir} holds upstream's ${UPSTREAM_BUNDLE_FILE} but no readable payload.json beside it, so its model settings are unknown (trainkit does not unpickle params.dill). Run upstream's inference on it directly, or train it again through trainkit-train --backend process --dialect ptycho-torch, which records the settings in payload.json.`,
    );
  }
  return { file, payload };
}

/** Where the model section of an inference payload comes from. */
export interface BundleSource {
  readonly file: string;
  readonly payload: unknown;
}

export async function loadBundle(path: string, origin: Origin): Promise<BundleSource> {
  try {
    return await readModelBundle(path);
  } catch (error) {
    const where = `inference.modelPath (${describeOrigin(origin)})`;
    if (isDataError(error, "FILE_NOT_FOUND")) {
      const upstream = await loadUpstreamRun(path, where);
      if (upstream) return upstream;
      throw new FactoryError("MODEL_NOT_FOUND", `${where}: ${(error as Error).message}`, { cause: error });
    }
    throw new FactoryError("DATA_INVALID", `${where}: ${(error as Error).message}`, { cause: error });
  }
}

export function bundleModelSection(bundle: BundleSource): Record<string, unknown> {
  const payload = bundle.payload as { kind?: unknown; config?: { model?: unknown } } | null;
  const model = payload?.config?.model;
  if (payload?.kind !== "training" || typeof model !== "object" || model === null) {
    throw new FactoryError(
      "DATA_INVALID",
      `${bundle.file}: payload.json is not a training payload with a model section; was the bundle written by trainkit?`,
    );
  }
  return model as Record<string, unknown>;
}
