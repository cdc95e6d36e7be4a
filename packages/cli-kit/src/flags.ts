import { type FieldInfo, kebabCase, listFields } from "@trainkit/config-meta";
import { PAYLOAD_SPECS, type PayloadKind } from "@trainkit/factory";
import { OPTIONS, type OptionName } from "./options.ts";

/** Help groups, in display order. */
export const FLAG_GROUPS = [
  "Data",
  "Model",
  "Training",
  "Inference",
  "Execution",
  "Output",
  "Configuration",
  "Run",
  "Actions",
] as const;
export type FlagGroup = (typeof FLAG_GROUPS)[number];

interface FieldTarget {
  readonly section: string;
  readonly field: FieldInfo;
  /** `override` for model/training/inference fields, `execution` for execution fields. */
  readonly level: "override" | "execution";
}

/** What one command-line flag does. */
export type FlagSpec =
  | {
      readonly kind: "field";
      readonly name: string;
      readonly target: FieldTarget;
      /** A fixed value (`--no-x`, `--quiet`), or undefined when the flag takes one. */
      readonly fixed?: unknown;
      readonly deprecated?: { readonly values?: Readonly<Record<string, string>>; readonly instead: string };
      readonly primary: boolean;
    }
  | {
      readonly kind: "compound";
      readonly name: string;
      readonly sets: readonly { readonly target: FieldTarget; readonly value: unknown }[];
      readonly deprecated: { readonly instead: string };
      readonly primary: false;
    }
  | {
      readonly kind: "option";
      readonly name: string;
      readonly option: OptionName;
      readonly primary: boolean;
    };

export { OPTIONS, type OptionName };

/** Flag names a field may not take because an option has them. */
const RESERVED = new Set<string>(Object.keys(OPTIONS));

export interface FlagTable {
  readonly kind: PayloadKind;
  readonly flags: ReadonlyMap<string, FlagSpec>;
  /** Fields by `section.key` and by alias path, for `--set`. */
  readonly targets: ReadonlyMap<string, FieldTarget>;
}

function add(flags: Map<string, FlagSpec>, spec: FlagSpec): void {
  const existing = flags.get(spec.name);
  if (existing && existing !== spec) {
    throw new Error(`Flag --${spec.name} is defined twice (${describe(existing)} and ${describe(spec)}).`);
  }
  flags.set(spec.name, spec);
}

function describe(spec: FlagSpec): string {
  return spec.kind === "field" ? `${spec.target.section}.${spec.target.field.key}` : spec.kind;
}

const cache = new Map<PayloadKind, FlagTable>();

/**
 * Every flag of a program, derived from the schema metadata: a kebab-case flag per field, `--no-x`
 * for booleans, the upstream aliases and deprecated flags, and the options above. Throws if two
 * fields would share a flag (a schema bug, caught by a test).
 */
export function flagTable(kind: PayloadKind): FlagTable {
  const cached = cache.get(kind);
  if (cached) return cached;
  const flags = new Map<string, FlagSpec>();
  const targets = new Map<string, FieldTarget>();
  for (const name of Object.keys(OPTIONS) as OptionName[])
    add(flags, { kind: "option", name, option: name, primary: true });
  for (const [section, sectionSpec] of Object.entries(PAYLOAD_SPECS[kind].sections)) {
    for (const field of listFields(sectionSpec.schema)) {
      const target: FieldTarget = {
        section,
        field,
        level: section === "execution" ? "execution" : "override",
      };
      targets.set(`${section}.${field.key}`, target);
      for (const alias of field.meta.aliases ?? []) targets.set(`${section}.${alias.name}`, target);
      if (RESERVED.has(field.flag))
        throw new Error(`Field ${section}.${field.key} takes the reserved flag --${field.flag}.`);
      add(flags, { kind: "field", name: field.flag, target, primary: true });
      if (field.kind === "boolean")
        add(flags, { kind: "field", name: `no-${field.flag}`, target, fixed: false, primary: false });
      if (field.kind === "union" && field.schema.safeParse(false).success) {
        add(flags, { kind: "field", name: `no-${field.flag}`, target, fixed: false, primary: false });
      }
      const aliases = new Set(field.meta.flagAliases ?? []);
      const upstream = field.meta.upstream;
      if (upstream !== field.flag && !RESERVED.has(upstream) && !/^[A-Z]$/.test(upstream))
        aliases.add(upstream);
      if (kebabCase(field.key) !== field.flag && !RESERVED.has(kebabCase(field.key)))
        aliases.add(kebabCase(field.key));
      for (const alias of aliases) {
        if (alias === field.flag || flags.get(alias)?.kind === "field") continue;
        add(flags, { kind: "field", name: alias, target, primary: false });
      }
      for (const negated of field.meta.negatedFlags ?? [])
        add(flags, { kind: "field", name: negated, target, fixed: false, primary: false });
      for (const deprecated of field.meta.deprecatedFlags ?? []) {
        add(flags, {
          kind: "field",
          name: deprecated.flag,
          target,
          primary: false,
          deprecated: {
            instead: `--${field.flag}`,
            ...(deprecated.values ? { values: deprecated.values } : {}),
          },
        });
      }
    }
  }
  const logger = targets.get("execution.logger");
  const progress = targets.get("execution.enableProgressBar");
  if (logger && progress) {
    add(flags, {
      kind: "compound",
      name: "disable_mlflow",
      sets: [
        { target: logger, value: "none" },
        { target: progress, value: false },
      ],
      deprecated: { instead: "--logger none and --quiet" },
      primary: false,
    });
  }
  const table = { kind, flags, targets };
  cache.set(kind, table);
  return table;
}

/** The help group of a field flag. */
export function groupOf(target: FieldTarget): FlagGroup {
  const group = target.field.meta.group;
  switch (group) {
    case "data":
      return "Data";
    case "model":
      return "Model";
    case "training":
      return target.section === "inference" ? "Inference" : "Training";
    case "inference":
      return "Inference";
    case "execution":
      return "Execution";
    case "output":
      return "Output";
  }
}
