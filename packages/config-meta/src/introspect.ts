import type * as z from "zod";
import { type FieldMeta, fieldRegistry } from "./field.ts";

/** A field of a section schema with its metadata and default, as derived from the schema. */
export interface FieldInfo {
  /** The key inside its section, e.g. `batchSize`. */
  readonly key: string;
  readonly meta: FieldMeta;
  readonly schema: z.ZodType;
  /** Whether the schema supplies a default (a field without one is required). */
  readonly hasDefault: boolean;
  /** The default value (undefined when `hasDefault` is false). */
  readonly defaultValue: unknown;
  /** The kind of value, for flag parsing and help. */
  readonly kind: ValueKind;
  /** Allowed values for enum fields (empty otherwise). */
  readonly choices: readonly (string | number)[];
  /** Whether `null` is accepted. */
  readonly nullable: boolean;
  /** The upstream params.cfg key, or null when the field is never bridged. */
  readonly legacyKey: string | null;
  /** The primary kebab-case flag without dashes, e.g. `batch-size`. */
  readonly flag: string;
}

export type ValueKind = "boolean" | "integer" | "number" | "string" | "enum" | "array" | "union";

type AnySchema = z.core.$ZodType;

function defOf(schema: AnySchema): z.core.$ZodTypeDef & Record<string, unknown> {
  return schema._zod.def as z.core.$ZodTypeDef & Record<string, unknown>;
}

/** Strips default/optional/nullable/pipe wrappers down to the value schema. */
export function unwrapSchema(schema: AnySchema): { inner: AnySchema; nullable: boolean } {
  let current = schema;
  let nullable = false;
  for (;;) {
    const def = defOf(current);
    if (
      def.type === "default" ||
      def.type === "optional" ||
      def.type === "prefault" ||
      def.type === "readonly"
    ) {
      current = def.innerType as AnySchema;
    } else if (def.type === "nullable") {
      nullable = true;
      current = def.innerType as AnySchema;
    } else if (def.type === "pipe") {
      current = def.in as AnySchema;
    } else {
      return { inner: current, nullable };
    }
  }
}

function kindOf(inner: AnySchema): { kind: ValueKind; choices: (string | number)[] } {
  const def = defOf(inner);
  switch (def.type) {
    case "boolean":
      return { kind: "boolean", choices: [] };
    case "number": {
      const checks = (def.checks ?? []) as unknown as { _zod: { def: { format?: string } } }[];
      const isInt = checks.some((c) => c._zod.def.format === "safeint");
      return {
        kind: isInt || (def as { format?: string }).format === "safeint" ? "integer" : "number",
        choices: [],
      };
    }
    case "string":
      return { kind: "string", choices: [] };
    case "enum":
      return { kind: "enum", choices: Object.values(def.entries as Record<string, string | number>) };
    case "literal":
      return { kind: "enum", choices: [...(def.values as (string | number)[])] };
    case "array":
      return { kind: "array", choices: [] };
    case "union": {
      const options = (def.options as AnySchema[]).map((o) => kindOf(unwrapSchema(o).inner));
      if (options.every((o) => o.kind === "enum")) {
        return { kind: "enum", choices: options.flatMap((o) => o.choices) };
      }
      return { kind: "union", choices: options.flatMap((o) => o.choices) };
    }
    default:
      return { kind: "string", choices: [] };
  }
}

/** kebab-case of a camelCase field name: `batchSize` -> `batch-size`, `N` -> `N`. */
export function kebabCase(name: string): string {
  if (/^[A-Z]$/.test(name)) return name;
  return name.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
}

/** SCREAMING_SNAKE of a camelCase field name: `batchSize` -> `BATCH_SIZE`. */
export function screamingSnake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
}

const cache = new WeakMap<AnySchema, readonly FieldInfo[]>();

/**
 * Lists the fields of a section schema (a zod object whose fields were made with `defineField`), in
 * schema order. Throws if a field has no metadata: every field must be documented.
 */
export function listFields(section: z.ZodObject): readonly FieldInfo[] {
  const cached = cache.get(section);
  if (cached) return cached;
  const fields = Object.entries(section.shape).map(([key, schema]): FieldInfo => {
    const meta = fieldRegistry.get(schema as z.ZodType);
    if (!meta) throw new Error(`Field "${key}" has no metadata; define it with defineField().`);
    const def = defOf(schema as AnySchema);
    const hasDefault = def.type === "default";
    const { inner, nullable } = unwrapSchema(schema as AnySchema);
    const { kind, choices } = kindOf(inner);
    return {
      key,
      meta,
      schema: schema as z.ZodType,
      hasDefault,
      defaultValue: hasDefault ? structuredClone(def.defaultValue) : undefined,
      kind,
      choices,
      nullable,
      legacyKey: meta.legacyKey === undefined ? meta.upstream : meta.legacyKey,
      flag: meta.flag ?? kebabCase(key),
    };
  });
  cache.set(section, fields);
  return fields;
}

/** Finds a field by its canonical key. */
export function getField(section: z.ZodObject, key: string): FieldInfo | undefined {
  return listFields(section).find((f) => f.key === key);
}

/** The defaults of every field that has one, as a plain object. */
export function sectionDefaults(section: z.ZodObject): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of listFields(section)) if (f.hasDefault) out[f.key] = structuredClone(f.defaultValue);
  return out;
}

/** Maps an alternative enum spelling to the canonical value (`silu` -> `swish`); other values pass. */
export function applyValueAlias(field: FieldInfo, value: unknown): unknown {
  const aliases = field.meta.valueAliases;
  return aliases && typeof value === "string" ? (aliases[value] ?? value) : value;
}
