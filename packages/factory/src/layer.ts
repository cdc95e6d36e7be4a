import type { Level, Origin } from "./levels.ts";

/** One value set by one source: `path` is `section.key` as the source wrote it (aliases allowed). */
export interface LayerEntry {
  readonly path: string;
  readonly value: unknown;
  readonly origin: Origin;
}

/** What one source contributes, at one level. Within a layer, later entries win. */
export interface Layer {
  readonly level: Level;
  readonly entries: readonly LayerEntry[];
}

/** Sectioned values as users write them: `{ training: { batchSize: 32 } }`. */
export type SectionedInput = Readonly<Record<string, Readonly<Record<string, unknown>> | undefined>>;

/**
 * Builds a layer from sectioned values, one entry per key. A value that is not a mapping where a
 * section is expected becomes one entry at the section path, for the resolver to reject.
 */
export function layerFromSections(
  level: Level,
  values: SectionedInput | undefined,
  origin: (path: string) => Origin,
): Layer {
  const entries: LayerEntry[] = [];
  for (const [section, fields] of Object.entries(values ?? {})) {
    if (fields === undefined) continue;
    if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
      entries.push({ path: section, value: fields, origin: origin(section) });
      continue;
    }
    for (const [key, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      const path = `${section}.${key}`;
      entries.push({ path, value, origin: origin(path) });
    }
  }
  return { level, entries };
}

/** A layer of values set in code (the `overrides` and `execution` arguments). */
export function codeLayer(level: Level, argument: string, values: SectionedInput | undefined): Layer {
  return layerFromSections(level, values, () => ({ kind: "code", argument }));
}
