import * as z from "zod";
import {
  ConfigError,
  type ConfigIssue,
  type ConfigWarning,
  type ConfigWarningCode,
  renderOrigin,
} from "./errors.ts";
import { applyValueAlias, type FieldInfo, listFields } from "./introspect.ts";
import type { Origin } from "./origin.ts";
import { fromZodIssues, houseMessage } from "./zod-issues.ts";

/** A finding of a cross-field rule, with a path relative to the section. */
export interface RuleFinding {
  readonly severity: "error" | "warning";
  /** Field key inside the section, e.g. `persistentWorkers`. */
  readonly field: string;
  readonly message: string;
  /** For warnings. */
  readonly code?: ConfigWarningCode;
  /** For errors: the value to show. */
  readonly value?: unknown;
  readonly hint?: string;
}

/** A small named cross-field check, run after the schema has passed. */
export interface Rule<T> {
  readonly name: string;
  readonly check: (config: T) => readonly RuleFinding[];
}

/** Identity helper that types a rule. */
export function defineRule<T>(name: string, check: (config: T) => readonly RuleFinding[]): Rule<T> {
  return { name, check };
}

/**
 * Where the value of a field came from, for messages: the audit's `Origin`, or a phrase
 * (`--batch-size on the command line`); rendered only when a message is shown.
 */
export type DescribeOrigin = (field: string) => Origin | string | undefined;

export interface ParseOptions {
  /** Prefix for paths in messages; the section name by default. */
  readonly path?: string;
  readonly describeOrigin?: DescribeOrigin;
}

export type SafeParseResult<T> =
  | { readonly success: true; readonly data: T; readonly warnings: readonly ConfigWarning[] }
  | { readonly success: false; readonly error: ConfigError; readonly warnings: readonly ConfigWarning[] };

export interface NormalizeResult {
  readonly value: Record<string, unknown>;
  readonly warnings: ConfigWarning[];
  readonly issues: ConfigIssue[];
  /** Canonical key -> the key the user actually wrote (only where they differ). */
  readonly renamed: ReadonlyMap<string, string>;
}

/** Replaces -0 with 0 so that a parsed value equals its JSON round trip. */
function canonicalize<T>(value: T): T {
  if (Object.is(value, -0)) return 0 as T;
  if (Array.isArray(value)) return value.map(canonicalize) as T;
  if (isPlainObject(value)) {
    const record: Record<string, unknown> = value;
    for (const key of Object.keys(record)) record[key] = canonicalize(record[key]);
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Maps alias keys to their canonical field and alias enum spellings to canonical values. A deprecated
 * alias gives a warning; an alias and its field set together is an `ALIAS_CONFLICT` issue. Unknown
 * keys are left in place for the schema to reject.
 */
export function normalizeSection(
  section: z.ZodObject,
  input: Record<string, unknown>,
  prefix: string,
  describeOrigin?: DescribeOrigin,
): NormalizeResult {
  const fields = listFields(section);
  const aliasOf = new Map<string, { field: FieldInfo; deprecated: boolean }>();
  for (const field of fields)
    for (const a of field.meta.aliases ?? []) aliasOf.set(a.name, { field, deprecated: a.deprecated });
  const value: Record<string, unknown> = {};
  const warnings: ConfigWarning[] = [];
  const issues: ConfigIssue[] = [];
  const renamed = new Map<string, string>();
  const from = (key: string): string => {
    const origin = describeOrigin?.(key);
    return origin ? ` (${renderOrigin(origin)})` : "";
  };
  for (const [key, raw] of Object.entries(input)) {
    const alias = aliasOf.get(key);
    const field = alias?.field ?? fields.find((f) => f.key === key);
    const target = field?.key ?? key;
    if (alias) {
      const previous = renamed.get(target) ?? (target in input ? target : undefined);
      if (previous !== undefined) {
        issues.push({
          code: "ALIAS_CONFLICT",
          path: `${prefix}.${target}`,
          message: `is set twice, as "${previous}" and as "${key}"`,
          hasValue: false,
          hint: `Keep only "${target}".`,
        });
        continue;
      }
      renamed.set(target, key);
      if (alias.deprecated) {
        warnings.push({
          code: "DEPRECATED_NAME",
          path: `${prefix}.${target}`,
          message: `"${key}"${from(key)} is deprecated; use "${target}" instead.`,
        });
      }
    }
    value[target] = field ? applyValueAlias(field, raw) : raw;
  }
  return { value, warnings, issues, renamed };
}

export interface Section<S extends z.ZodObject> {
  readonly name: string;
  readonly schema: S;
  readonly rules: readonly Rule<z.output<S>>[];
  /** Parses and validates; throws `ConfigError` listing every problem. Warnings go to `onWarning`. */
  parse(
    input: unknown,
    options?: ParseOptions & { readonly onWarning?: (w: ConfigWarning) => void },
  ): z.output<S>;
  /** Parses and validates without throwing. */
  safeParse(input: unknown, options?: ParseOptions): SafeParseResult<z.output<S>>;
  /** Runs only the cross-field rules on an already parsed value. */
  check(value: z.output<S>, options?: ParseOptions): { issues: ConfigIssue[]; warnings: ConfigWarning[] };
}

/** Builds the parse/safeParse/check trio for one config section. */
export function createSection<S extends z.ZodObject>(
  name: string,
  schema: S,
  rules: readonly Rule<z.output<S>>[],
): Section<S> {
  const fields = listFields(schema);
  const keys = fields.map((f) => f.key);
  const secretKeys = new Set(fields.filter((f) => f.meta.secret).map((f) => f.key));

  const check: Section<S>["check"] = (value, options = {}) => {
    const prefix = options.path ?? name;
    const issues: ConfigIssue[] = [];
    const warnings: ConfigWarning[] = [];
    for (const rule of rules) {
      for (const finding of rule.check(value)) {
        const path = `${prefix}.${finding.field}`;
        if (finding.severity === "warning") {
          warnings.push({ code: finding.code ?? "UNUSED_SETTING", path, message: finding.message });
          continue;
        }
        const origin = options.describeOrigin?.(finding.field);
        const shown =
          finding.value !== undefined ? finding.value : (value as Record<string, unknown>)[finding.field];
        issues.push({
          code: "RULE_VIOLATION",
          path,
          message: finding.message,
          hasValue: true,
          value: shown,
          ...(origin ? { origin } : {}),
          ...(finding.hint ? { hint: finding.hint } : {}),
          ...(secretKeys.has(finding.field) ? { secret: true } : {}),
        });
      }
    }
    return { issues, warnings };
  };

  const safeParse: Section<S>["safeParse"] = (input, options = {}) => {
    const prefix = options.path ?? name;
    if (!isPlainObject(input)) {
      const issue: ConfigIssue = {
        code: "NOT_AN_OBJECT",
        path: prefix,
        message: "must be a mapping of setting names to values",
        hasValue: true,
        value: input,
      };
      return { success: false, error: new ConfigError([issue]), warnings: [] };
    }
    const normalized = normalizeSection(schema, input, prefix, options.describeOrigin);
    const parsed = schema.safeParse(normalized.value, { reportInput: true, error: houseMessage });
    const issues = [...normalized.issues];
    const warnings = [...normalized.warnings];
    if (!parsed.success) {
      for (const issue of fromZodIssues(parsed.error.issues, {
        prefix,
        input: normalized.value,
        knownKeys: () => keys,
        isSecret: (path) => secretKeys.has(String(path[0])),
      })) {
        const field = issue.path.slice(prefix.length + 1).split(".")[0] ?? "";
        const origin = options.describeOrigin?.(field);
        issues.push(origin ? { ...issue, origin } : issue);
      }
    } else if (issues.length === 0) {
      const data = canonicalize(parsed.data);
      const ruled = check(data, options);
      issues.push(...ruled.issues);
      warnings.push(...ruled.warnings);
      if (issues.length === 0) return { success: true, data, warnings };
    }
    return { success: false, error: new ConfigError(issues), warnings };
  };

  return {
    name,
    schema,
    rules,
    check,
    safeParse,
    parse(input, options = {}) {
      const result = safeParse(input, options);
      for (const w of result.warnings) options.onWarning?.(w);
      if (!result.success) throw result.error;
      return result.data;
    },
  };
}

/** The input JSON Schema of a section, with every alias listed as a deprecated property. */
export function sectionJsonSchema(schema: z.ZodObject, title: string): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: "input", target: "draft-2020-12" }) as Record<string, unknown>;
  const properties = json.properties as Record<string, Record<string, unknown>>;
  for (const field of listFields(schema)) {
    for (const alias of field.meta.aliases ?? []) {
      properties[alias.name] = {
        ...properties[field.key],
        description: `${alias.deprecated ? "Deprecated alias" : "Alias"} of "${field.key}". ${field.meta.description}`,
        ...(alias.deprecated ? { deprecated: true } : {}),
      };
      delete properties[alias.name]?.default;
    }
  }
  const { $schema, ...rest } = json;
  return { $schema, title, ...rest };
}
