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
import type { z } from "zod";
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

/**
 * The precedence of values set for one field, highest first: the higher level (lower rank); within
 * a level, the later layer; within a layer, the later entry. The one rule, for `resolve` and
 * `peekValue` alike.
 */
function byPrecedence(a: Candidate, b: Candidate): number {
  return a.rank - b.rank || b.layer - a.layer || b.entry - a.entry;
}

/** Audit entries by origin and value, with how many are kept. */
type SoleEntries = Map<Origin, Map<unknown, AuditEntry>> & { kept: number };

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
  /** What each field's value shadows when one source alone sets it: its default, or nothing (frozen). */
  readonly shadowsAlone: readonly (readonly ShadowedValue[])[];
  /** Per field, the audit entries of values set by one source alone, by origin and value (bounded). */
  readonly soleEntries: readonly SoleEntries[];
}

const DEFAULT_ORIGIN: Origin = Object.freeze({ kind: "default" });
const PARSE_OPTIONS = { reportInput: true, error: houseMessage } as const;
const NOTHING_SHADOWED: readonly ShadowedValue[] = Object.freeze([]);

/**
 * A section's schema parse, remembered by its input: the jobs of a study share most sections (the
 * same model, the same execution settings but a seed), so each distinct section is parsed once.
 * Successful results are frozen and shared; the cache is bounded.
 */
interface ParsedSection {
  readonly success: true;
  readonly data: unknown;
  readonly cached: true;
  /** Set once the section's own rules found nothing in it: then they need not run again. */
  clean?: boolean;
}
const parsedSections = new WeakMap<AnySection, Map<string, ParsedSection>>();
const PARSE_CACHE_SIZE = 512;

/**
 * Whether JSON tells these values apart from any others (no NaN, Infinity, -0 or nested objects), so
 * that their JSON can key the cache.
 */
function cacheable(values: readonly unknown[]): boolean {
  for (const value of values) {
    if (typeof value === "number" && (!Number.isFinite(value) || Object.is(value, -0))) return false;
    if (
      Array.isArray(value) &&
      value.some(
        (v) => typeof v === "object" || (typeof v === "number" && (!Number.isFinite(v) || Object.is(v, -0))),
      )
    )
      return false;
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return false;
  }
  return true;
}

/**
 * Parses a section's merged input. `overrides` are the `[key, value]` pairs set above the defaults,
 * in the order they were merged: with the defaults, which never change, they are the whole input, so
 * their JSON keys the cache (a short key, where the whole section's JSON would be long).
 */
function parseSection(
  section: AnySection,
  inputOf: () => Record<string, unknown>,
  overrides: readonly unknown[],
) {
  const values: unknown[] = [];
  for (let i = 1; i < overrides.length; i += 2) values.push(overrides[i]);
  if (!cacheable(values)) return section.schema.safeParse(inputOf(), PARSE_OPTIONS);
  let cache = parsedSections.get(section);
  if (!cache) {
    cache = new Map();
    parsedSections.set(section, cache);
  }
  const key = JSON.stringify(overrides);
  const hit = cache.get(key);
  if (hit) return hit;
  const input = inputOf();
  const data = fieldwise(section, input);
  const parsed = data ? { success: true as const, data } : section.schema.safeParse(input, PARSE_OPTIONS);
  if (!parsed.success) return parsed;
  if (cache.size >= PARSE_CACHE_SIZE) cache.clear();
  const result: ParsedSection = { success: true, data: Object.freeze(parsed.data), cached: true };
  cache.set(key, result);
  return result;
}

interface FieldParser {
  readonly key: string;
  readonly schema: z.ZodType;
  /** Whether zod leaves the key out of the output when it is absent from the input. */
  readonly absentOmitted: boolean;
  /** Parsed values of primitive inputs whose outputs are primitives too (bounded). */
  readonly memo: Map<unknown, unknown>;
}

const FIELD_MEMO_SIZE = 1024;
const fieldParsers = new WeakMap<AnySection, readonly FieldParser[] | null>();

/**
 * A section's fields, when its schema is a plain object of independent fields (no object-level
 * checks): then parsing it is parsing each field, and each field's parse of a primitive value is
 * remembered. Null for any other schema.
 */
function fieldParsersOf(section: AnySection): readonly FieldParser[] | null {
  let found = fieldParsers.get(section);
  if (found !== undefined) return found;
  const def = section.schema._zod.def as { type: string; checks?: readonly unknown[] };
  found =
    def.type === "object" && (def.checks?.length ?? 0) === 0
      ? Object.entries(section.schema.shape as Record<string, z.ZodType>).map(([key, schema]) => ({
          key,
          schema,
          absentOmitted: schema._zod.optin === "optional" && schema._zod.optout === "optional",
          memo: new Map(),
        }))
      : null;
  fieldParsers.set(section, found);
  return found;
}

function isPrimitive(value: unknown): boolean {
  return value === null || (typeof value !== "object" && typeof value !== "function");
}

/**
 * The section parsed field by field: the same output as the schema's parse (a property test holds
 * them equal), or undefined when anything is unusual (an unknown key, an absent field zod would
 * report, a value that fails), for the schema's own parse to report.
 */
export function fieldwise(
  section: AnySection,
  input: Readonly<Record<string, unknown>>,
): Record<string, unknown> | undefined {
  const parsers = fieldParsersOf(section);
  if (!parsers) return undefined;
  const out: Record<string, unknown> = {};
  let present = 0;
  for (const parser of parsers) {
    if (!Object.hasOwn(input, parser.key)) {
      if (!parser.absentOmitted) return undefined;
      continue;
    }
    present++;
    const value = input[parser.key];
    let parsed: unknown;
    // The memo's keys compare as SameValueZero: -0 would find 0's entry, so it is never remembered.
    const memoable = isPrimitive(value) && !Object.is(value, -0);
    if (memoable && parser.memo.has(value)) parsed = parser.memo.get(value);
    else {
      const result = parser.schema.safeParse(value);
      if (!result.success) return undefined;
      parsed = result.data;
      if (memoable && isPrimitive(parsed)) {
        if (parser.memo.size >= FIELD_MEMO_SIZE) parser.memo.clear();
        parser.memo.set(value, parsed);
      }
    }
    out[parser.key] = parsed;
  }
  return present === Object.keys(input).length ? out : undefined;
}

interface Index {
  readonly sections: readonly SectionInfo[];
  readonly defaults: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly fields: Map<
    string,
    { readonly section: string; readonly field: FieldInfo; readonly position: number }
  >;
  /** Every field's default audit entry, in payload order (sections, then fields). */
  readonly defaultAudit: readonly AuditEntry[];
  /** The section and field index of each position in that order. */
  readonly slots: readonly { readonly info: SectionInfo; readonly i: number }[];
  readonly aliases: Map<string, { readonly path: string; readonly deprecated: boolean }>;
  readonly sectionOf: Map<string, string[]>;
}

const indexCache = new WeakMap<PayloadSpec, Index>();

function indexOf(spec: PayloadSpec): Index {
  const cached = indexCache.get(spec);
  if (cached) return cached;
  const fields = new Map<string, { section: string; field: FieldInfo; position: number }>();
  const aliases = new Map<string, { path: string; deprecated: boolean }>();
  const sectionOf = new Map<string, string[]>();
  for (const [name, section] of Object.entries(spec.sections)) {
    for (const field of listFields(section.schema)) {
      fields.set(`${name}.${field.key}`, { section: name, field, position: fields.size });
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
      shadowsAlone: list.map((f) =>
        Object.freeze(
          f.hasDefault
            ? [
                Object.freeze({
                  level: "default" as const,
                  origin: DEFAULT_ORIGIN,
                  value: mask(f.defaultValue, f.meta.secret === true),
                }),
              ]
            : [],
        ),
      ),
      soleEntries: list.map(() => Object.assign(new Map(), { kept: 0 })),
      secret: new Set(list.filter((f) => f.meta.secret).map((f) => f.key)),
    };
  });
  const defaults: Record<string, Record<string, unknown>> = {};
  for (const info of sections) {
    defaults[info.name] = Object.fromEntries(
      info.fields.filter((f) => f.hasDefault).map((f) => [f.key, f.defaultValue]),
    );
  }
  const defaultAudit = sections.flatMap((info) => info.defaultEntries);
  const slots = sections.flatMap((info) => info.fields.map((_, i) => ({ info, i })));
  const index = { sections, defaults, fields, aliases, sectionOf, defaultAudit, slots };
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
  const base = { code: "UNKNOWN_KEY" as const, path, hasValue: true, value, origin };
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
                origin: entry.origin,
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
          origin: entry.origin,
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

  for (const list of candidates.values()) list.sort(byPrecedence);

  // Merge: a section's input is its defaults with each field's highest-precedence candidate (sorted
  // above) over them. Values are leaves (numbers, strings, booleans, lists), and a list replaces,
  // never concatenates: so this is the layers merged from the lowest to the highest, without merging
  // every layer. The winning pairs alone key the cache of parsed sections, so the input is built
  // only when the section must be parsed.
  const overrides: Record<string, unknown[]> = {};
  for (const info of index.sections) overrides[info.name] = [];
  for (const [path, list] of candidates) {
    const known = index.fields.get(path);
    const top = list[0];
    if (known && top) overrides[known.section]?.push(known.field.key, top.value);
  }
  const merged: Record<string, Record<string, unknown>> = {};
  const inputOf = (name: string): Record<string, unknown> => {
    let input = merged[name];
    if (!input) {
      input = { ...index.defaults[name] };
      const pairs = overrides[name] ?? [];
      for (let i = 0; i < pairs.length; i += 2) input[pairs[i] as string] = pairs[i + 1];
      merged[name] = input;
    }
    return input;
  };

  const winner = (path: string): Candidate | undefined => candidates.get(path)?.[0];
  // Issues keep the origin as data; it is rendered with the message.
  const originOf = (path: string): Origin | undefined => winner(path)?.origin;

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
  const cached: (ParsedSection | undefined)[] = [];
  for (const { name, section, keys, secret } of index.sections) {
    const parsed = parseSection(section, () => inputOf(name), overrides[name] ?? []);
    if (!parsed.success) {
      for (const issue of fromZodIssues(parsed.error.issues, {
        prefix: name,
        input: inputOf(name),
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
    cached.push("cached" in parsed ? parsed : undefined);
  }
  if (issues.length === 0) {
    index.sections.forEach(({ name, section }, i) => {
      const values = config[name] as Record<string, unknown>;
      const entry = cached[i];
      if (entry?.clean) return;
      const checked = section.check(values, {
        describeOrigin: (field) => originOf(`${name}.${field}`),
      });
      issues.push(...checked.issues);
      warnings.push(...checked.warnings);
      // A shared (cached) section that passed its rules with nothing to say passes again.
      if (entry && checked.issues.length === 0 && checked.warnings.length === 0) entry.clean = true;
    });
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

  // The audit starts as every field's default entry (shared); the fields some source sets replace
  // theirs, in field order.
  const audit: AuditEntry[] = index.defaultAudit.slice();
  const overridesApplied: Record<string, unknown> = {};
  const positions: number[] = [];
  for (const path of candidates.keys()) {
    const known = index.fields.get(path);
    if (known) positions.push(known.position);
  }
  positions.sort((a, b) => a - b);
  for (const position of positions) {
    const { info, i } = index.slots[position]!;
    const field = info.fields[i]!;
    const path = info.paths[i]!;
    const secret = field.meta.secret === true;
    const value = config[info.name]?.[field.key];
    const list = candidates.get(path)!;
    const top = list[0]!;
    if (list.length === 1) audit[position] = soleEntry(info, i, top, value);
    else {
      const shadowed: ShadowedValue[] = [];
      for (let j = 1; j < list.length; j++) {
        const c = list[j]!;
        shadowed.push({ level: c.level, origin: c.origin, value: mask(c.value, secret) });
      }
      shadowed.push(...info.shadowsAlone[i]!);
      audit[position] = { path, value: mask(value, secret), level: top.level, origin: top.origin, shadowed };
    }
    overridesApplied[field.meta.upstream] = mask(value, secret);
    if (top.level === "inferred") continue;
    const inferred = list.find((c) => c.level === "inferred");
    if (inferred && !sameValue(inferred.value, value)) {
      warnings.push({
        code: "INFERRED_CONFLICT",
        path,
        message: `${path} is ${renderValue(value, secret)} (${from(top.origin)}) but ${renderValue(inferred.value, secret)} was ${from(inferred.origin)}; the explicit value wins.`,
      });
    }
  }
  return { config: config as C, audit, warnings, overridesApplied };
}

/** At most this many shared entries are kept per field. */
const SOLE_ENTRIES = 512;

/**
 * The audit entry of a field that one source alone sets (it shadows only the default). The jobs of a
 * study share their sources' origins, so the entries of the values they agree on are shared too
 * (frozen): 10,000 payloads do not hold 10,000 copies of the same entry.
 */
function soleEntry(info: SectionInfo, i: number, top: Candidate, value: unknown): AuditEntry {
  const field = info.fields[i]!;
  const make = (): AuditEntry =>
    Object.freeze({
      path: info.paths[i]!,
      value: mask(value, field.meta.secret === true),
      level: top.level,
      origin: top.origin,
      shadowed: info.shadowsAlone[i]!,
    });
  if (!isPrimitive(value)) return make();
  const memo = info.soleEntries[i]!;
  let entry = memo.get(top.origin)?.get(value);
  if (entry !== undefined && entry.level === top.level) return entry;
  entry = make();
  if (memo.kept >= SOLE_ENTRIES) {
    memo.clear();
    memo.kept = 0;
  }
  let byValue = memo.get(top.origin);
  if (byValue === undefined) {
    byValue = new Map();
    memo.set(top.origin, byValue);
  }
  if (!byValue.has(value)) memo.kept++;
  byValue.set(value, entry);
  return entry;
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
  let best: Candidate | undefined;
  layers.forEach((layer, layerIndex) => {
    const rank = levelRank(layer.level);
    layer.entries.forEach((entry, entryIndex) => {
      if (entry.value === undefined || (index.aliases.get(entry.path)?.path ?? entry.path) !== path) return;
      const candidate = {
        level: layer.level,
        origin: entry.origin,
        value: entry.value,
        rank,
        layer: layerIndex,
        entry: entryIndex,
      };
      if (!best || byPrecedence(candidate, best) < 0) best = candidate;
    });
  });
  if (!best) return undefined;
  // Value aliases first (`Supervised` -> `supervised`), so every rule sees the canonical value.
  const field = index.fields.get(path)?.field;
  return { value: field ? normalizeValue(field, best.value) : best.value, origin: best.origin };
}
