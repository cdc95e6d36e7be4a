import {
  ConfigError,
  type ConfigIssue,
  type ConfigWarning,
  closestName,
  listFields,
  renderValue,
} from "@trainkit/config-meta";
import { FactoryError } from "./errors.ts";
import type { Layer, LayerEntry } from "./layer.ts";
import type { PayloadKind } from "./payload-spec.ts";
import { PAYLOAD_SPECS } from "./payload-spec.ts";
import { parseSourceJson, readSourceText } from "./read-source.ts";

/** A flat legacy `params.cfg` dictionary: upstream key names, plain JSON values. */
export type LegacyParams = Readonly<Record<string, string | number | boolean | readonly number[]>>;

/**
 * Keys of upstream's DEFAULT_CFG that no trainkit field models (derived sizes, simulation knobs,
 * paths of the old TensorFlow code). A legacy file may hold them; they are reported, not applied.
 */
export const LEGACY_ONLY_KEYS: readonly string[] = [
  "offset",
  "outer_offset_train",
  "outer_offset_test",
  "big_gridsize",
  "max_position_jitter",
  "sim_jitter_scale",
  "default_probe_scale",
  "tv_weight",
  "nimgs_train",
  "nimgs_test",
  "data_source",
  "set_phi",
  "label",
  "size",
  "h5_path",
  "npseed",
  "use_xla_translate",
  "bigN",
  "intensity_scale",
  "probe",
  "timestamp",
];

/** The optimisation keys of upstream main's TrainingConfig, which its params.cfg holds. */
export const UPSTREAM_OPTIMISATION_KEYS: readonly string[] = [
  "gradient_clip_val",
  "gradient_clip_algorithm",
  "optimizer",
  "momentum",
  "weight_decay",
  "adam_beta1",
  "adam_beta2",
  "scheduler",
  "lr_warmup_epochs",
  "lr_min_ratio",
  "plateau_factor",
  "plateau_patience",
  "plateau_min_lr",
  "plateau_threshold",
];

interface LegacyTarget {
  readonly path: string;
  readonly deprecated: boolean;
}

const targetsCache = new Map<PayloadKind, Map<string, LegacyTarget>>();

/** Legacy key -> payload path, for the bridged sections of a payload kind. */
function legacyTargets(kind: PayloadKind): Map<string, LegacyTarget> {
  const cached = targetsCache.get(kind);
  if (cached) return cached;
  const targets = new Map<string, LegacyTarget>();
  for (const [name, section] of Object.entries(PAYLOAD_SPECS[kind].sections)) {
    for (const field of listFields(section.schema)) {
      if (field.legacyKey === null) continue;
      targets.set(field.legacyKey, { path: `${name}.${field.key}`, deprecated: false });
    }
  }
  // Upstream main's TrainingConfig carries the optimisation settings, so its params.cfg holds them
  // (13 keys; gradient_clip_val too when set). trainkit keeps them in the execution section and never
  // writes them, but reads them (at the config level, origin the legacy key).
  if (kind === "training") {
    for (const field of listFields(PAYLOAD_SPECS.training.sections.execution!.schema)) {
      if (field.meta.upstream !== undefined && UPSTREAM_OPTIMISATION_KEYS.includes(field.meta.upstream))
        targets.set(field.meta.upstream, { path: `execution.${field.key}`, deprecated: false });
    }
  }
  // Deprecated upstream spellings that older params files carry.
  const groups = kind === "training" ? "training.nGroups" : "inference.nGroups";
  targets.set("n_images", { path: groups, deprecated: true });
  targetsCache.set(kind, targets);
  return targets;
}

/**
 * Flattens a resolved payload config into the legacy dictionary: `model` merged into the training
 * or inference section, upstream key names (KEY_MAPPINGS applied: `objectBig` -> `object.big`,
 * `outputDir` -> `output_prefix`, ...), null values left out (as upstream's update skips None).
 * Execution fields are never included.
 */
export function toLegacyParams(kind: PayloadKind, config: object): LegacyParams {
  const out: Record<string, string | number | boolean | readonly number[]> = {};
  for (const [name, section] of Object.entries(PAYLOAD_SPECS[kind].sections)) {
    const values = (config as Record<string, unknown>)[name] as Record<string, unknown> | undefined;
    if (!values) continue;
    for (const field of listFields(section.schema)) {
      if (field.legacyKey === null) continue;
      const value = values[field.key];
      if (value === null || value === undefined) continue;
      out[field.legacyKey] = value as string | number | boolean | readonly number[];
    }
  }
  return out;
}

/** The result of reading a legacy dictionary: a `config`-level layer and what was not applied. */
export interface LegacyLayer {
  readonly layer: Layer;
  readonly warnings: readonly ConfigWarning[];
}

/**
 * The inverse of `toLegacyParams`: a `config`-level layer whose entries carry the legacy key as their
 * origin. Keys of upstream's DEFAULT_CFG that trainkit does not model, and keys of the other payload
 * kind, are reported as `IGNORED_SETTING` warnings; any other unknown key is a `ConfigError`.
 */
export function fromLegacyParams(
  dict: Readonly<Record<string, unknown>>,
  options: { readonly kind: PayloadKind; readonly file: string },
): LegacyLayer {
  const targets = legacyTargets(options.kind);
  const other = legacyTargets(options.kind === "training" ? "inference" : "training");
  const entries: LayerEntry[] = [];
  const warnings: ConfigWarning[] = [];
  const issues: ConfigIssue[] = [];
  for (const [key, value] of Object.entries(dict)) {
    const origin = { kind: "legacy" as const, file: options.file, key };
    const target = targets.get(key);
    if (target) {
      entries.push({ path: target.path, value, origin });
      if (target.deprecated) {
        warnings.push({
          code: "DEPRECATED_NAME",
          path: target.path,
          message: `legacy key "${key}" in ${options.file} is deprecated; use "n_groups".`,
        });
      }
      continue;
    }
    if (LEGACY_ONLY_KEYS.includes(key) || other.has(key)) {
      const why = other.has(key)
        ? `it applies to ${options.kind === "training" ? "inference" : "training"} only`
        : "trainkit does not model it";
      warnings.push({
        code: "IGNORED_SETTING",
        path: key,
        message: `legacy key "${key}" = ${renderValue(value)} in ${options.file} is not applied: ${why}.`,
      });
      continue;
    }
    const best = closestName(key, [...targets.keys()]);
    issues.push({
      code: "UNKNOWN_KEY",
      path: key,
      message: "is not a legacy params.cfg key",
      hasValue: true,
      value,
      origin: `legacy params ${options.file}`,
      hint: best ? `Did you mean "${best}"?` : "See docs/legacy-bridge.md for the bridged keys.",
    });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return { layer: { level: "config", entries }, warnings };
}

/** Reads a legacy params file (a JSON object of params.cfg keys). */
export async function loadLegacyParamsFile(path: string, kind: PayloadKind): Promise<LegacyLayer> {
  const text = await readSourceText(path, "Legacy params file");
  const dict = parseSourceJson(text, "Legacy params file", path);
  if (typeof dict !== "object" || dict === null || Array.isArray(dict)) {
    throw new FactoryError(
      "SOURCE_MALFORMED",
      `Legacy params file ${path} must hold a JSON object of params.cfg keys.`,
    );
  }
  return fromLegacyParams(dict as Record<string, unknown>, { kind, file: path });
}

/**
 * A scoped replacement for upstream's process-global `params.cfg`. `bridge` writes a payload's legacy
 * dictionary exactly once per scope, replacing the previous contents (no stale keys survive);
 * `withScope` runs a job in a fresh scope and restores the previous contents afterwards.
 */
export class LegacyParamsStore {
  #values: Record<string, unknown> = {};
  #bridged = false;

  /** The value of a legacy key; throws for a key that is not set (like upstream's `params.get`). */
  get(key: string): unknown {
    if (!(key in this.#values)) {
      const best = closestName(key, Object.keys(this.#values));
      throw new FactoryError(
        "LEGACY_KEY_MISSING",
        `params.cfg has no key "${key}".${best ? ` Did you mean "${best}"?` : ""}`,
      );
    }
    return this.#values[key];
  }

  has(key: string): boolean {
    return key in this.#values;
  }

  /** A copy of the whole dictionary. */
  snapshot(): Readonly<Record<string, unknown>> {
    return { ...this.#values };
  }

  /** Whether the current scope has been bridged. */
  get bridged(): boolean {
    return this.#bridged;
  }

  /** Writes the legacy dictionary of one job. A second bridge in the same scope is an error. */
  bridge(params: LegacyParams): void {
    if (this.#bridged) {
      throw new FactoryError(
        "LEGACY_ALREADY_BRIDGED",
        "params.cfg was already bridged in this scope; run each job in its own store.withScope(...).",
      );
    }
    this.#values = { ...params };
    this.#bridged = true;
  }

  /** Runs `job` in a fresh, unbridged scope; the previous contents come back afterwards, even on error. */
  async withScope<T>(job: () => T | Promise<T>): Promise<T> {
    const saved = { values: this.#values, bridged: this.#bridged };
    this.#values = {};
    this.#bridged = false;
    try {
      return await job();
    } finally {
      this.#values = saved.values;
      this.#bridged = saved.bridged;
    }
  }
}
