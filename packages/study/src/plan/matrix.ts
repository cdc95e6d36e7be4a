// The matrix of a study: its axes, their values, and the combinations they make (include, exclude,
// repeats, folds, named jobs), with the templates that put axis values into other values.
import { closestName, listFields, listProblems } from "@trainkit/config-meta";
import { PAYLOAD_SPECS } from "@trainkit/factory";
import { StudyError } from "../errors.ts";
import type { LoadedSpec, SpecPath } from "../spec.ts";

export interface AxisOption {
  readonly display: string;
  /** For path axes: the value; for named axes: the partial payload. */
  readonly value: unknown;
  /** Where the value was written. */
  readonly where: SpecPath;
}

export interface Axis {
  readonly key: string;
  /** Short name in labels. */
  readonly short: string;
  readonly kind: "path" | "named";
  /** Canonical payload path of a path axis. */
  readonly path?: string;
  readonly options: readonly AxisOption[];
}

export interface Combination {
  readonly picks: readonly (AxisOption | undefined)[];
  readonly name: string | null;
  readonly repeat: number | null;
  readonly fold: number | null;
  /** Where an include entry was written (its origin for values not on an axis). */
  readonly include?: number;
}

export const TRAINING = PAYLOAD_SPECS.training;
export const SECTIONS = Object.keys(TRAINING.sections);

/** Canonical paths of every training-payload field, and alias paths to their canonical path. */
export const FIELD_PATHS: ReadonlyMap<string, string> = (() => {
  const map = new Map<string, string>();
  for (const [name, section] of Object.entries(TRAINING.sections)) {
    for (const field of listFields(section.schema)) {
      map.set(`${name}.${field.key}`, `${name}.${field.key}`);
      for (const alias of field.meta.aliases ?? []) map.set(`${name}.${alias.name}`, `${name}.${field.key}`);
    }
  }
  return map;
})();

export function fieldOf(path: string) {
  const [section, key] = path.split(".") as [string, string];
  const schema = TRAINING.sections[section]?.schema;
  return schema ? listFields(schema).find((f) => f.key === key) : undefined;
}

export function displayOf(value: unknown, written: string | undefined): string {
  if (written !== undefined && /^[^\s'"]+$/.test(written)) return written;
  if (Array.isArray(value)) return value.map((v) => displayOf(v, undefined)).join("+");
  return String(value);
}

export function safe(text: string): string {
  return text.replace(/[^A-Za-z0-9._=,+-]/g, "_");
}

export function buildAxes(loaded: LoadedSpec): Axis[] {
  const { spec } = loaded;
  const problems: string[] = [];
  const axes: Axis[] = [];
  for (const [key, values] of Object.entries(spec.matrix)) {
    const pos = loaded.at(["matrix", key]);
    if (Array.isArray(values)) {
      const path = FIELD_PATHS.get(key);
      if (!path) {
        const best = closestName(key, FIELD_PATHS.keys());
        problems.push(
          `${loaded.file}:${pos.line}:${pos.column}: matrix.${key}: ${key.includes(".") ? `"${key}" is not a training payload setting` : `an axis named "${key}" needs named values (name: {section: {...}}), or use a payload path such as training.nphotons`}.${best ? ` Did you mean "${best}"?` : ""}`,
        );
        continue;
      }
      const options = values.map((value, i) => ({
        display: displayOf(value, loaded.sourceText(["matrix", key, i])),
        value,
        where: ["matrix", key, i] as SpecPath,
      }));
      const seen = new Set<string>();
      for (const o of options) {
        if (seen.has(o.display)) {
          const at = loaded.at(o.where);
          problems.push(
            `${loaded.file}:${at.line}:${at.column}: matrix.${key}: the value ${o.display} is listed twice.`,
          );
        }
        seen.add(o.display);
      }
      axes.push({ key, short: key.split(".").pop() ?? key, kind: "path", path, options });
    } else {
      const names = Object.keys(values);
      if (names.length === 0) {
        problems.push(
          `${loaded.file}:${pos.line}:${pos.column}: matrix.${key}: an axis needs at least one value.`,
        );
        continue;
      }
      if (key.includes(".")) {
        problems.push(
          `${loaded.file}:${pos.line}:${pos.column}: matrix.${key}: a payload path takes a list of values; named values need an axis name without dots.`,
        );
        continue;
      }
      axes.push({
        key,
        short: key,
        kind: "named",
        options: names.map((name) => ({ display: name, value: values[name], where: ["matrix", key, name] })),
      });
    }
  }
  const shorts = new Map<string, number>();
  for (const a of axes) shorts.set(a.short, (shorts.get(a.short) ?? 0) + 1);
  if (problems.length > 0) throw new StudyError("AXIS_PATH_UNKNOWN", listProblems("Study matrix", problems));
  return axes.map((a) => ((shorts.get(a.short) ?? 0) > 1 ? { ...a, short: a.key } : a));
}

export function matches(axis: Axis, option: AxisOption, wanted: unknown): boolean {
  if (axis.kind === "named") return option.display === String(wanted);
  return JSON.stringify(option.value) === JSON.stringify(wanted) || option.display === String(wanted);
}

export function combinations(loaded: LoadedSpec, axes: readonly Axis[], folds: number | null): Combination[] {
  const { spec } = loaded;
  const problems: string[] = [];
  const checkKeys = (entry: Record<string, unknown>, where: string, i: number) => {
    for (const k of Object.keys(entry)) {
      if (!axes.some((a) => a.key === k)) {
        const at = loaded.at([where, i, k]);
        const best = closestName(
          k,
          axes.map((a) => a.key),
        );
        problems.push(
          `${loaded.file}:${at.line}:${at.column}: ${where}[${i}]: "${k}" is not an axis.${best ? ` Did you mean "${best}"?` : ""}`,
        );
      }
    }
  };
  for (const [i, e] of spec.exclude.entries()) checkKeys(e, "exclude", i);
  for (const [i, e] of spec.include.entries()) checkKeys(e, "include", i);

  const points: { picks: (AxisOption | undefined)[]; include?: number }[] = [];
  const walk = (depth: number, picks: AxisOption[]) => {
    if (depth === axes.length) {
      points.push({ picks: [...picks] });
      return;
    }
    for (const option of (axes[depth] as Axis).options) walk(depth + 1, [...picks, option]);
  };
  if (axes.length > 0) walk(0, []);
  else points.push({ picks: [] });
  const excluded = (picks: readonly (AxisOption | undefined)[]) =>
    spec.exclude.some((e) =>
      Object.entries(e).every(([k, v]) => {
        const i = axes.findIndex((a) => a.key === k);
        const pick = picks[i];
        return pick !== undefined && matches(axes[i] as Axis, pick, v);
      }),
    );
  const kept = points.filter((p) => !excluded(p.picks));
  spec.include.forEach((entry, n) => {
    const picks = axes.map((axis): AxisOption | undefined => {
      if (!(axis.key in entry)) return undefined;
      const wanted = entry[axis.key];
      const found = axis.options.find((o) => matches(axis, o, wanted));
      if (found) return found;
      if (axis.kind === "named") {
        const at = loaded.at(["include", n, axis.key]);
        problems.push(
          `${loaded.file}:${at.line}:${at.column}: include[${n}].${axis.key}: "${String(wanted)}" is not one of ${axis.options.map((o) => o.display).join(", ")}.`,
        );
        return undefined;
      }
      return {
        display: displayOf(wanted, loaded.sourceText(["include", n, axis.key])),
        value: wanted,
        where: ["include", n, axis.key],
      };
    });
    const same = kept.find((p) => p.picks.every((pick, i) => pick?.display === picks[i]?.display));
    if (!same) kept.push({ picks, include: n });
  });
  if (problems.length > 0) throw new StudyError("SPEC_INVALID", listProblems("Study spec", problems));

  const names: (string | null)[] = spec.jobs ? Object.keys(spec.jobs) : [null];
  const out: Combination[] = [];
  for (const name of names) {
    for (const point of kept) {
      for (let r = 0; r < spec.repeats; r++) {
        for (let f = 0; f < (folds ?? 1); f++) {
          out.push({
            picks: point.picks,
            name,
            repeat: spec.repeats > 1 ? r : null,
            fold: folds ? f : null,
            ...(point.include !== undefined ? { include: point.include } : {}),
          });
        }
      }
    }
  }
  return out;
}

export const TEMPLATE = /\{([A-Za-z_][A-Za-z0-9_.]*)\}/g;

/** Replaces `{axis}` in every string of a value; unknown names are collected. */
export function substitute(
  value: unknown,
  names: ReadonlyMap<string, string>,
  unknown: Set<string>,
): unknown {
  if (typeof value === "string") {
    return value.replace(TEMPLATE, (whole, name: string) => {
      const found = names.get(name);
      if (found === undefined) {
        unknown.add(name);
        return whole;
      }
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, names, unknown));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, names, unknown)]));
  }
  return value;
}
