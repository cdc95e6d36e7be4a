import { stat } from "node:fs/promises";
import { join } from "node:path";
import {
  ConfigError,
  type ConfigIssue,
  closestName,
  coerceFieldValue,
  type FieldInfo,
  getField,
  listFields,
  SECRET_MASK,
  screamingSnake,
} from "@trainkit/config-meta";
import { executionSection } from "@trainkit/execution-config";
import { inferenceSection, modelSection, trainingSection } from "@trainkit/training-config";
import { parseConfigText } from "./config-text.ts";
import { FactoryError } from "./errors.ts";
import type { Layer, LayerEntry } from "./layer.ts";
import { parseSourceJson, readSourceText } from "./read-source.ts";

/** Every section a config source may hold; a payload takes the ones it has. */
export const CONFIG_SECTIONS = {
  model: modelSection,
  training: trainingSection,
  inference: inferenceSection,
  execution: executionSection,
} as const;

/** A typed source of `config`-level values. */
export type Source =
  /** A config file; `layer` is its `loadConfigFile` result when the caller read it already (read once). */
  | { readonly kind: "file"; readonly path: string; readonly layer?: Layer }
  | { readonly kind: "env"; readonly env?: Readonly<Record<string, string | undefined>> }
  | { readonly kind: "legacy"; readonly path: string }
  | { readonly kind: "run"; readonly dir: string };

/** Within the config level: a previous run lowest, then legacy params, then files in order, then env. */
const SOURCE_RANK: Readonly<Record<Source["kind"], number>> = { run: 0, legacy: 1, file: 2, env: 3 };

/** Orders sources from the lowest to the highest precedence inside the config level (stable). */
export function orderSources(sources: readonly Source[]): Source[] {
  return sources
    .map((source, i) => ({ source, i }))
    .sort((a, b) => SOURCE_RANK[a.source.kind] - SOURCE_RANK[b.source.kind] || a.i - b.i)
    .map((x) => x.source);
}

/** Loads a YAML or JSON config file (sections `model`, `training`, `inference`, `execution`). */
export async function loadConfigFile(path: string): Promise<Layer> {
  return parseConfigText(await readSourceText(path, "Config file"), path);
}

/**
 * Environment variables that belong to trainkit but are not settings: the payload file and the run
 * directory (set for external programs) and the thread budget an orchestrator hands a job.
 */
export const RESERVED_ENV = new Set(["TRAINKIT_PAYLOAD", "TRAINKIT_RUN_DIR", "TRAINKIT_THREAD_BUDGET"]);

interface EnvTarget {
  readonly path: string;
  readonly field: FieldInfo;
}

let envIndex: Map<string, EnvTarget> | undefined;

/** `TRAINKIT_<SECTION>_<FIELD>` for every field and key alias, e.g. `TRAINKIT_TRAINING_BATCH_SIZE`. */
export function envVariables(): ReadonlyMap<string, EnvTarget> {
  if (envIndex) return envIndex;
  envIndex = new Map();
  for (const [name, section] of Object.entries(CONFIG_SECTIONS)) {
    for (const field of listFields(section.schema)) {
      const prefix = `TRAINKIT_${name.toUpperCase()}_`;
      envIndex.set(prefix + screamingSnake(field.key), { path: `${name}.${field.key}`, field });
      for (const alias of field.meta.aliases ?? []) {
        envIndex.set(prefix + screamingSnake(alias.name), { path: `${name}.${alias.name}`, field });
      }
    }
  }
  return envIndex;
}

/** The variable name of a field, e.g. `TRAINKIT_EXECUTION_LEARNING_RATE`. */
export function envVariableOf(section: string, key: string): string {
  return `TRAINKIT_${section.toUpperCase()}_${screamingSnake(key)}`;
}

/**
 * Reads `TRAINKIT_*` variables into a layer. An unknown `TRAINKIT_` variable or a value of the wrong
 * type is a `ConfigError` naming the variable (never its value when the field is secret).
 */
export function loadEnvironment(env: Readonly<Record<string, string | undefined>>): Layer {
  const index = envVariables();
  const entries: LayerEntry[] = [];
  const issues: ConfigIssue[] = [];
  for (const name of Object.keys(env).sort()) {
    const raw = env[name];
    if (!name.startsWith("TRAINKIT_") || raw === undefined || RESERVED_ENV.has(name)) continue;
    const origin = { kind: "env" as const, variable: name };
    const target = index.get(name);
    if (!target) {
      const best = closestName(name, index.keys());
      issues.push({
        code: "UNKNOWN_KEY",
        path: name,
        message: "is not a trainkit setting",
        hasValue: false,
        hint: best
          ? `Did you mean ${best}?`
          : "Variables are named TRAINKIT_<SECTION>_<FIELD>, e.g. TRAINKIT_TRAINING_BATCH_SIZE.",
      });
      continue;
    }
    const coerced = coerceFieldValue(target.field, raw);
    if (!coerced.ok) {
      issues.push({
        code: "INVALID_VALUE",
        path: target.path,
        message: coerced.message,
        hasValue: true,
        value: raw,
        origin,
        ...(target.field.meta.secret ? { secret: true } : {}),
      });
      continue;
    }
    entries.push({ path: target.path, value: coerced.value, origin });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return { level: "config", entries };
}

/** Reads `payload.json` of a previous run directory into a layer (the lowest source of the level). */
export async function loadRunDirectory(dir: string): Promise<Layer> {
  const file = join(dir, "payload.json");
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory())
    throw new FactoryError("SOURCE_NOT_FOUND", `Previous run ${dir} is not a directory.`);
  const text = await readSourceText(file, "Run payload");
  const payload = parseSourceJson(text, "Run payload", file);
  const config = (payload as { config?: unknown } | null)?.config;
  if (typeof config !== "object" || config === null) {
    throw new FactoryError(
      "SOURCE_MALFORMED",
      `${file} has no "config" object; is ${dir} a trainkit run directory?`,
    );
  }
  const entries: LayerEntry[] = [];
  for (const [section, fields] of Object.entries(config as Record<string, unknown>)) {
    if (typeof fields !== "object" || fields === null) continue;
    const known = CONFIG_SECTIONS[section as keyof typeof CONFIG_SECTIONS];
    for (const [key, value] of Object.entries(fields as Record<string, unknown>)) {
      // Secrets are saved masked: they must be given again.
      if (value === SECRET_MASK && known && getField(known.schema, key)?.meta.secret) continue;
      entries.push({ path: `${section}.${key}`, value, origin: { kind: "run", dir } });
    }
  }
  return { level: "config", entries };
}
