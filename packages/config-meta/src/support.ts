// A backend's support table: one entry for every key of every payload section, so that a schema
// field added without an entry is a type error (the table is typed over the resolved config, in the
// style of vitest's `CLIOptions<Config>`). The launcher turns a table into capabilities.
import type * as z from "zod";
import type { Capability } from "./capability.ts";
import { listFields } from "./introspect.ts";

type Config = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

/** The backend uses the value; `readBy` names the code that reads it (a file, and the symbol or flag). */
export interface Honoured {
  readonly kind: "honoured";
  readonly readBy: string;
  readonly note?: string;
}

/** Only the listed values work. */
export interface Only {
  readonly kind: "only";
  readonly values: readonly unknown[];
  readonly note?: string;
}

/** A value works when `check` says so (a cross-field or computed limit). */
export interface RuleSupport {
  readonly kind: "rule";
  /** What is supported, in a few words (shown when a value is refused). */
  readonly requirement: string;
  readonly check: (value: unknown, config: Config) => boolean;
  readonly note?: string;
}

/** The backend cannot do anything with the setting: only the schema default is accepted. */
export interface Refused {
  readonly kind: "refused";
  readonly why: string;
}

export type Support = Honoured | Only | RuleSupport | Refused;

/**
 * One entry per key of every section. `Sections` is the resolved config type
 * (`{ model: ModelConfig; training: TrainingConfig; ... }`); `E` lets a backend carry more per entry.
 */
export type SupportTable<Sections extends object, E extends Support = Support> = {
  readonly [S in keyof Sections]-?: { readonly [K in keyof Sections[S]]-?: E };
};

export const honoured = (readBy: string, note?: string): Honoured =>
  note === undefined ? { kind: "honoured", readBy } : { kind: "honoured", readBy, note };
export const onlyValues = (values: readonly unknown[], note?: string): Only =>
  note === undefined ? { kind: "only", values } : { kind: "only", values, note };
export const rule = (requirement: string, check: RuleSupport["check"], note?: string): RuleSupport =>
  note === undefined ? { kind: "rule", requirement, check } : { kind: "rule", requirement, check, note };
export const refused = (why: string): Refused => ({ kind: "refused", why });

/** Value equality as JSON sees it (`1` and `1.0` are the same, `true` is not `1`). */
export const sameValue = (a: unknown, b: unknown): boolean =>
  a === b || (typeof a === "object" && typeof b === "object" && JSON.stringify(a) === JSON.stringify(b));

const showValues = (values: readonly unknown[]): string => values.map((v) => JSON.stringify(v)).join(" or ");

/** What an entry supports, in words: `"cnn"`, `1 or 2`, `only its default null (why)`. */
export function describeSupport(entry: Support, defaultValue: unknown): string {
  switch (entry.kind) {
    case "honoured":
      return "any valid value";
    case "only":
      return showValues(entry.values);
    case "rule":
      return entry.requirement;
    case "refused":
      // A field without a default (a required one) has no value the backend would accept.
      return `${defaultValue === undefined ? "no value" : `only its default ${JSON.stringify(defaultValue)}`}: ${entry.why.replace(/\.$/, "")}`;
  }
}

/** What a field needs to turn its entry into a capability. */
interface EntryContext {
  readonly path: string;
  readonly defaultValue: unknown;
  readonly hint: { readonly hint?: string };
}

/**
 * The capability of each kind of entry (undefined: nothing to check). A registry over the closed
 * `Support["kind"]` set: a new kind without a row here is a type error, never silently skipped.
 */
const CAPABILITY_OF = {
  honoured: () => undefined,
  only: (entry, { path, defaultValue, hint }) => ({
    path,
    supports: (v) => entry.values.some((x) => sameValue(x, v)),
    supported: describeSupport(entry, defaultValue),
    ...hint,
  }),
  rule: (entry, { path, hint }) => ({ path, supports: entry.check, supported: entry.requirement, ...hint }),
  refused: (entry, { path, defaultValue, hint }) => ({
    path,
    supports: (v) => sameValue(v, defaultValue),
    supported: describeSupport(entry, defaultValue),
    ...hint,
  }),
} satisfies {
  readonly [K in Support["kind"]]: (
    entry: Extract<Support, { kind: K }>,
    context: EntryContext,
  ) => Capability | undefined;
};

function capabilityOf<E extends Support>(entry: E, context: EntryContext): Capability | undefined {
  return (CAPABILITY_OF[entry.kind] as (entry: E, context: EntryContext) => Capability | undefined)(
    entry,
    context,
  );
}

/**
 * The capabilities of a table for the sections of one payload: every entry that restricts a value
 * (`only`, `rule`, `refused`). `schemas` gives each section's defaults.
 */
export function tableCapabilities(
  table: Readonly<Record<string, Readonly<Record<string, Support>>>>,
  schemas: Readonly<Record<string, z.ZodObject>>,
  hint?: string,
): Capability[] {
  const out: Capability[] = [];
  for (const [section, schema] of Object.entries(schemas)) {
    const entries = table[section] ?? {};
    for (const field of listFields(schema)) {
      const entry = entries[field.key];
      const path = `${section}.${field.key}`;
      if (entry === undefined) {
        // Only reachable for a table built without its type (e.g. JSON): refuse rather than ignore.
        out.push({ path, supports: () => false, supported: "nothing (the backend has no entry for it)" });
        continue;
      }
      const capability = capabilityOf(entry, {
        path,
        defaultValue: field.defaultValue,
        hint: hint === undefined ? {} : { hint },
      });
      if (capability) out.push(capability);
    }
  }
  return out;
}
