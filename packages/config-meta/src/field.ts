import * as z from "zod";

/** Help groups shown by `--help`, in display order. */
export const HELP_GROUPS = ["data", "model", "training", "inference", "execution", "output"] as const;
export type HelpGroup = (typeof HELP_GROUPS)[number];

/** A name a field used to have (or another tool uses) that is still accepted. */
export interface FieldAlias {
  /** The accepted key, in the camelCase spelling used by config files, env and `--set`. */
  readonly name: string;
  /** A deprecated alias is accepted with a warning; a plain alias is accepted silently. */
  readonly deprecated: boolean;
}

/** A deprecated command-line flag for a field, optionally with its own value spellings. */
export interface DeprecatedFlag {
  /** Without the leading dashes, e.g. `n_images`. */
  readonly flag: string;
  /** Value translations, e.g. `{ cuda: "gpu" }` for `--device`. */
  readonly values?: Readonly<Record<string, string>>;
}

/** Everything trainkit knows about one config field, kept next to its zod schema. */
export interface FieldMeta {
  /** One sentence, shown in `--help`, JSON Schema and docs. */
  readonly description: string;
  readonly group: HelpGroup;
  /** A finer grouping inside the help group (execution: hardware, loaders, ...). */
  readonly category?: string;
  /** The upstream PtychoPINN field name (snake_case). */
  readonly upstream: string;
  /**
   * The key in the legacy flat `params.cfg` dictionary. Defaults to `upstream`; `null` means the
   * field is never bridged (every execution field).
   */
  readonly legacyKey?: string | null;
  /** Overrides the kebab-case flag derived from the field name (without the leading dashes). */
  readonly flag?: string;
  /** Extra command-line spellings accepted for this field, e.g. `--batch_size`. */
  readonly flagAliases?: readonly string[];
  /** Boolean fields: flags that set the field to false, e.g. `--quiet` for the progress bar. */
  readonly negatedFlags?: readonly string[];
  /** Deprecated command-line spellings, accepted with a warning, e.g. `--n_images`. */
  readonly deprecatedFlags?: readonly DeprecatedFlag[];
  /** Other key names accepted in every source. */
  readonly aliases?: readonly FieldAlias[];
  /** Alternative spellings of enum values, mapped to the canonical value (e.g. `silu` -> `swish`). */
  readonly valueAliases?: Readonly<Record<string, string>>;
  /** Shown as `***` in printed payloads, audits, error messages and manifests. */
  readonly secret?: boolean;
  /** A short placeholder for the value in help text, e.g. `N`, `PATH`, `RATE`. */
  readonly valueName?: string;
}

/** The registry that holds the metadata of every trainkit config field. */
export const fieldRegistry: z.core.$ZodRegistry<FieldMeta> = z.registry<FieldMeta>();

/**
 * Attaches metadata to a field schema and returns it. The description also goes to zod's global
 * registry, so it appears in the generated JSON Schema.
 */
export function defineField<const T extends z.ZodType>(schema: T, meta: FieldMeta): T {
  const described = schema.meta({ description: meta.description }) as T;
  fieldRegistry.add(described, meta);
  return described;
}
