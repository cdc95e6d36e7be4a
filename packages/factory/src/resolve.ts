import {
  applyValueAlias,
  ConfigError,
  type ConfigIssue,
  type ConfigWarning,
  closestName,
  type FieldInfo,
  fromZodIssues,
  houseMessage,
  listFields,
  type RuleFinding,
  renderValue,
  type Section,
} from "@trainkit/config-meta";
import { type AuditEntry, mask, type ShadowedValue } from "./audit.ts";
import type { Layer } from "./layer.ts";
import { describeOrigin, type Level, levelRank, type Origin } from "./levels.ts";

// biome-ignore lint/suspicious/noExplicitAny: a section of any schema
type AnySection = Section<any>;

/** A cross-section rule over the whole resolved config. Field paths are `section.key`. */
export interface PayloadRule {
  readonly name: string;
  readonly check: (
    config: Readonly<Record<string, Readonly<Record<string, unknown>>>>,
  ) => readonly RuleFinding[];
}

/** What `resolve` builds: its sections, in payload order, and the rules that span them. */
export interface PayloadSpec {
  readonly sections: Readonly<Record<string, AnySection>>;
  /** Sections of the other payload kind: skipped when they come from shared sources (files, env, runs). */
  readonly foreignSections?: readonly string[];
  readonly rules?: readonly PayloadRule[];
  /** Fields that must be set above the default level, with how to set them. */
  readonly required?: Readonly<Record<string, string>>;
}

/** The result of resolving layers: the validated config and everything about where it came from. */
export interface Resolution<C> {
  readonly config: C;
  readonly audit: readonly AuditEntry[];
  readonly warnings: readonly ConfigWarning[];
  /** Upstream-compatible flat map (upstream key names) of every value set above the default level. */
  readonly overridesApplied: Readonly<Record<string, unknown>>;
}

interface Candidate {
  readonly level: Level;
  readonly origin: Origin;
  readonly value: unknown;
  readonly rank: number;
  readonly layer: number;
  readonly entry: number;
}

interface SectionInfo {
  readonly name: string;
  readonly section: AnySection;
  readonly fields: readonly FieldInfo[];
  readonly keys: readonly string[];
  /** `section.key` of each field, in order. */
  readonly paths: readonly string[];
  readonly secret: ReadonlySet<string>;
  /** The audit entry of each field when nothing above the default sets it (shared, frozen). */
  readonly defaultEntries: readonly AuditEntry[];
}

const DEFAULT_ORIGIN: Origin = Object.freeze({ kind: "default" });
const PARSE_OPTIONS = { reportInput: true, error: houseMessage } as const;
const NOTHING_SHADOWED: readonly ShadowedValue[] = Object.freeze([]);

/**
 * A section's schema parse, remembered by its input: the jobs of a study share most sections (the
 * same model, the same execution settings but a seed), so each distinct section is parsed once.
 * Successful results are frozen and shared; the cache is bounded.
 */
const parsedSections = new WeakMap<AnySection, Map<string, { success: true; data: unknown }>>();
const PARSE_CACHE_SIZE = 512;
/** Shared sections whose own rules found nothing. */
const cleanSections = new WeakSet<object>();

/** Whether JSON tells a section's input apart from every other (no NaN, Infinity or nesting). */
function cacheable(input: unknown): input is Record<string, unknown> {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return false;
  for (const value of Object.values(input)) {
    if (typeof value === "number" && !Number.isFinite(value)) return false;
    if (
      Array.isArray(value) &&
      value.some((v) => typeof v === "object" || (typeof v === "number" && !Number.isFinite(v)))
    )
      return false;
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return false;
  }
  return true;
}

function parseSection(section: AnySection, input: unknown) {
  if (!cacheable(input)) return section.schema.safeParse(input, PARSE_OPTIONS);
  let cache = parsedSections.get(section);
  if (!cache) {
    cache = new Map();
    parsedSections.set(section, cache);
  }
  const key = JSON.stringify(input);
  const hit = cache.get(key);
  if (hit) return hit;
  const parsed = section.schema.safeParse(input, PARSE_OPTIONS);
  if (!parsed.success) return parsed;
  if (cache.size >= PARSE_CACHE_SIZE) cache.clear();
  const result = { success: true as const, data: Object.freeze(parsed.data) };
  cache.set(key, result);
  return result;
}

interface Index {
  readonly sections: readonly SectionInfo[];
  readonly defaults: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly fields: Map<string, { readonly section: string; readonly field: FieldInfo }>;
  readonly aliases: Map<string, { readonly path: string; readonly deprecated: boolean }>;
  readonly sectionOf: Map<string, string[]>;
}

const indexCache = new WeakMap<PayloadSpec, Index>();

function indexOf(spec: PayloadSpec): Index {
  const cached = indexCache.get(spec);
  if (cached) return cached;
  const fields = new Map<string, { section: string; field: FieldInfo }>();
  const aliases = new Map<string, { path: string; deprecated: boolean }>();
  const sectionOf = new Map<string, string[]>();
  for (const [name, section] of Object.entries(spec.sections)) {
    for (const field of listFields(section.schema)) {
      fields.set(`${name}.${field.key}`, { section: name, field });
      sectionOf.set(field.key, [...(sectionOf.get(field.key) ?? []), name]);
      for (const alias of field.meta.aliases ?? []) {
        aliases.set(`${name}.${alias.name}`, { path: `${name}.${field.key}`, deprecated: alias.deprecated });
      }
    }
  }
  const sections = Object.entries(spec.sections).map(([name, section]): SectionInfo => {
    const list = listFields(section.schema);
    return {
      name,
      section,
      fields: list,
      keys: list.map((f) => f.key),
      paths: list.map((f) => `${name}.${f.key}`),
      defaultEntries: list.map((f) =>
        Object.freeze({
          path: `${name}.${f.key}`,
          value: mask(
            Array.isArray(f.defaultValue) ? Object.freeze(f.defaultValue) : f.defaultValue,
            f.meta.secret === true,
          ),
          level: "default" as const,
          origin: DEFAULT_ORIGIN,
          shadowed: NOTHING_SHADOWED,
        }),
      ),
      secret: new Set(list.filter((f) => f.meta.secret).map((f) => f.key)),
    };
  });
  const defaults: Record<string, Record<string, unknown>> = {};
  for (const info of sections) {
    defaults[info.name] = Object.fromEntries(
      info.fields.filter((f) => f.hasDefault).map((f) => [f.key, f.defaultValue]),
    );
  }
  const index = { sections, defaults, fields, aliases, sectionOf };
  indexCache.set(spec, index);
  return index;
}

/** Value aliases applied and -0 stored as 0, so that payloads equal their JSON round trip. */
function normalizeValue(field: FieldInfo, value: unknown): unknown {
  return Object.is(value, -0) ? 0 : applyValueAlias(field, value);
}

function from(origin: Origin): string {
  return describeOrigin(origin);
}

function unknownKeyIssue(
  spec: PayloadSpec,
  index: Index,
  path: string,
  value: unknown,
  origin: Origin,
): ConfigIssue {
  const dot = path.indexOf(".");
  const sectionName = dot === -1 ? path : path.slice(0, dot);
  const key = dot === -1 ? "" : path.slice(dot + 1);
  const sections = Object.keys(spec.sections);
  const base = { code: "UNKNOWN_KEY" as const, path, hasValue: true, value, origin: from(origin) };
  if (!(sectionName in spec.sections)) {
    const owners = index.sectionOf.get(path);
    if (dot === -1 && owners) {
      return {
        ...base,
        message: "is not a section",
        hint: `It belongs in the ${owners.join(" or ")} section: write it under ${owners[0]}.`,
      };
    }
    const best = closestName(sectionName, sections);
    return {
      ...base,
      message: `is not a known setting ("${sectionName}" is not a section)`,
      hint: best ? `Did you mean "${best}"?` : `Sections are ${sections.join(", ")}.`,
    };
  }
  const own = listFields(spec.sections[sectionName]!.schema).flatMap((f) => [
    f.key,
    ...(f.meta.aliases ?? []).map((a) => a.name),
  ]);
  const best = closestName(key, own);
  if (best)
    return { ...base, message: "is not a known setting", hint: `Did you mean "${sectionName}.${best}"?` };
  const elsewhere = index.sectionOf.get(key)?.find((s) => s !== sectionName);
  if (elsewhere)
    return {
      ...base,
      message: "is not a known setting",
      hint: `It is in the ${elsewhere} section: did you mean "${elsewhere}.${key}"?`,
    };
  return { ...base, message: "is not a known setting", hint: "See docs/configuration.md for every setting." };
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Resolves layers into one validated config. Pure and deterministic: the same layers give the same
 * result whatever their key order. Each leaf takes the value of the highest level that sets it
 * (within a level, the later layer; within a layer, the later entry). Objects merge deeply, arrays
 * replace, null sets null. Validation runs once, on the merged result; every issue names the origin
 * of the offending value. Throws `ConfigError` listing every problem.
 */
export function resolve<C>(spec: PayloadSpec, layers: readonly Layer[]): Resolution<C> {
  const index = indexOf(spec);
  const issues: ConfigIssue[] = [];
  const warnings: ConfigWarning[] = [];
  const candidates = new Map<string, Candidate[]>();
  const foreign = new Set(spec.foreignSections ?? []);

  layers.forEach((layer, layerIndex) => {
    const rank = levelRank(layer.level);
    const writtenAs = new Map<string, string>();
    layer.entries.forEach((entry, entryIndex) => {
      if (entry.value === undefined) return;
      const alias = index.aliases.get(entry.path);
      const path = alias?.path ?? entry.path;
      const known = index.fields.get(path);
      if (!known) {
        const section = entry.path.split(".")[0] ?? "";
        if (foreign.has(section) && rank >= levelRank("config")) return;
        issues.push(
          foreign.has(section)
            ? {
                code: "UNKNOWN_KEY",
                path: entry.path,
                message: `is an ${section} setting and does not apply here`,
                hasValue: true,
                value: entry.value,
                origin: from(entry.origin),
              }
            : unknownKeyIssue(spec, index, entry.path, entry.value, entry.origin),
        );
        return;
      }
      const previous = writtenAs.get(path);
      if (previous !== undefined && previous !== entry.path) {
        issues.push({
          code: "ALIAS_CONFLICT",
          path,
          message: `is set twice in one source, as "${previous}" and as "${entry.path}"`,
          hasValue: false,
          origin: from(entry.origin),
          hint: `Keep only "${path}".`,
        });
        return;
      }
      writtenAs.set(path, entry.path);
      if (alias?.deprecated) {
        warnings.push({
          code: "DEPRECATED_NAME",
          path,
          message: `"${entry.path.split(".").slice(1).join(".")}" (${from(entry.origin)}) is deprecated; use "${path}" instead.`,
        });
      }
      const value = normalizeValue(known.field, entry.value);
      const list = candidates.get(path) ?? [];
      list.push({
        level: layer.level,
        origin: entry.origin,
        value,
        rank,
        layer: layerIndex,
        entry: entryIndex,
      });
      candidates.set(path, list);
    });
  });
  if (issues.length > 0) throw new ConfigError(issues);

  for (const list of candidates.values()) {
    list.sort((a, b) => a.rank - b.rank || b.layer - a.layer || b.entry - a.entry);
  }

  // Merge: the defaults, then each field's highest-precedence candidate (sorted above). Values are
  // leaves (numbers, strings, booleans, lists), and a list replaces, never concatenates: so this is
  // the layers merged from the lowest to the highest, without merging every layer.
  const merged: Record<string, Record<string, unknown>> = {};
  for (const info of index.sections) merged[info.name] = { ...index.defaults[info.name] };
  for (const [path, list] of candidates) {
    const known = index.fields.get(path);
    const top = list[0];
    if (known && top) (merged[known.section] as Record<string, unknown>)[known.field.key] = top.value;
  }

  const winner = (path: string): Candidate | undefined => candidates.get(path)?.[0];
  const originOf = (path: string): string | undefined => {
    const w = winner(path);
    return w ? from(w.origin) : undefined;
  };

  for (const [path, howToSet] of Object.entries(spec.required ?? {})) {
    if (!winner(path)) {
      issues.push({
        code: "MISSING_VALUE",
        path,
        message: "is required and has no value",
        hasValue: false,
        hint: howToSet,
      });
    }
  }

  const config: Record<string, Record<string, unknown>> = {};
  for (const { name, section, keys, secret } of index.sections) {
    const parsed = parseSection(section, merged[name]);
    if (!parsed.success) {
      for (const issue of fromZodIssues(parsed.error.issues, {
        prefix: name,
        input: merged[name],
        knownKeys: () => keys,
        isSecret: (p) => secret.has(String(p[0])),
      })) {
        if (issue.code === "MISSING_VALUE" && spec.required?.[issue.path]) continue;
        const origin = originOf(issue.path.split(".").slice(0, 2).join("."));
        issues.push(origin ? { ...issue, origin } : issue);
      }
      continue;
    }
    config[name] = parsed.data as Record<string, unknown>;
  }
  if (issues.length === 0) {
    for (const { name, section } of index.sections) {
      const values = config[name] as Record<string, unknown>;
      if (cleanSections.has(values)) continue;
      const checked = section.check(values, {
        describeOrigin: (field) => originOf(`${name}.${field}`),
      });
      issues.push(...checked.issues);
      warnings.push(...checked.warnings);
      // A shared (cached, frozen) section that passed its rules with nothing to say passes again.
      if (Object.isFrozen(values) && checked.issues.length === 0 && checked.warnings.length === 0)
        cleanSections.add(values);
    }
    for (const rule of spec.rules ?? []) {
      for (const finding of rule.check(config)) {
        if (finding.severity === "warning") {
          warnings.push({
            code: finding.code ?? "UNUSED_SETTING",
            path: finding.field,
            message: finding.message,
          });
          continue;
        }
        const [s, k] = finding.field.split(".") as [string, string];
        const origin = originOf(finding.field);
        issues.push({
          code: "RULE_VIOLATION",
          path: finding.field,
          message: finding.message,
          hasValue: true,
          value: finding.value !== undefined ? finding.value : config[s]?.[k],
          ...(origin ? { origin } : {}),
          ...(finding.hint ? { hint: finding.hint } : {}),
        });
      }
    }
  }
  if (issues.length > 0) throw new ConfigError(issues, { cause: undefined });

  const audit: AuditEntry[] = [];
  const overridesApplied: Record<string, unknown> = {};
  for (const { name, fields, paths, defaultEntries } of index.sections) {
    const values = config[name] ?? {};
    fields.forEach((field, i) => {
      const path = paths[i]!;
      const secret = field.meta.secret === true;
      const value = values[field.key];
      const list = candidates.get(path);
      const top = list?.[0];
      if (!list || !top) {
        audit.push(defaultEntries[i]!);
        return;
      }
      const shadowed: ShadowedValue[] = [];
      for (let j = 1; j < list.length; j++) {
        const c = list[j]!;
        shadowed.push({ level: c.level, origin: c.origin, value: mask(c.value, secret) });
      }
      if (field.hasDefault)
        shadowed.push({ level: "default", origin: DEFAULT_ORIGIN, value: mask(field.defaultValue, secret) });
      audit.push({ path, value: mask(value, secret), level: top.level, origin: top.origin, shadowed });
      overridesApplied[field.meta.upstream] = mask(value, secret);
      if (top.level === "inferred") return;
      const inferred = list.find((c) => c.level === "inferred");
      if (inferred && !sameValue(inferred.value, value)) {
        warnings.push({
          code: "INFERRED_CONFLICT",
          path,
          message: `${path} is ${renderValue(value, secret)} (${from(top.origin)}) but ${renderValue(inferred.value, secret)} was ${from(inferred.origin)}; the explicit value wins.`,
        });
      }
    });
  }
  return { config: config as C, audit, warnings, overridesApplied };
}

/**
 * The value the highest-precedence layer gives `path` (aliases applied), without validating anything:
 * the factory needs the data file's path before it can infer values from the data.
 */
export function peekValue(
  spec: PayloadSpec,
  layers: readonly Layer[],
  path: string,
): { readonly value: unknown; readonly origin: Origin } | undefined {
  const index = indexOf(spec);
  let best: { value: unknown; origin: Origin; rank: number; layer: number } | undefined;
  layers.forEach((layer, i) => {
    const rank = levelRank(layer.level);
    for (const entry of layer.entries) {
      if (entry.value === undefined || (index.aliases.get(entry.path)?.path ?? entry.path) !== path) continue;
      if (!best || rank < best.rank || (rank === best.rank && i >= best.layer)) {
        best = { value: entry.value, origin: entry.origin, rank, layer: i };
      }
    }
  });
  if (!best) return undefined;
  // Value aliases first (`Supervised` -> `supervised`), so every rule sees the canonical value.
  const field = index.fields.get(path)?.field;
  return { value: field ? normalizeValue(field, best.value) : best.value, origin: best.origin };
}
