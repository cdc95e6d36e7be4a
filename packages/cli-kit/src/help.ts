import { type FieldInfo, renderValue } from "@trainkit/config-meta";
import { EXECUTION_CATEGORIES } from "@trainkit/execution-config";
import { PAYLOAD_SPECS, type PayloadKind, PRECEDENCE } from "@trainkit/factory";
import { FLAG_GROUPS, type FlagGroup, type FlagSpec, flagTable, groupOf, OPTIONS } from "./flags.ts";

const WIDTH = 98;
const FLAG_COLUMN = 34;

function wrap(text: string, indent: number, width = WIDTH): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

function entry(left: string, description: string): string[] {
  const pad = " ".repeat(FLAG_COLUMN);
  const lines = wrap(description, FLAG_COLUMN);
  const head = `  ${left}`;
  if (head.length < FLAG_COLUMN - 1) {
    return [`${head.padEnd(FLAG_COLUMN)}${lines[0] ?? ""}`, ...lines.slice(1).map((l) => pad + l)];
  }
  return [head, ...lines.map((l) => pad + l)];
}

function valueHint(field: FieldInfo): string {
  if (field.kind === "boolean") return "";
  if (field.kind === "enum" && field.choices.length <= 6) return ` ${field.choices.join("|")}`;
  return ` ${field.meta.valueName ?? "VALUE"}`;
}

function fieldLines(
  spec: Extract<FlagSpec, { kind: "field" }>,
  all: readonly FlagSpec[],
  required: ReadonlySet<string>,
): string[] {
  const { field } = spec.target;
  const others = all.filter((s) => s.kind === "field" && s.target === spec.target && s !== spec);
  const aliases = others
    .filter((s) => s.kind === "field" && s.fixed === undefined && !s.deprecated)
    .map((s) => `--${s.name}`);
  const negations = others.filter((s) => s.kind === "field" && s.fixed === false).map((s) => `--${s.name}`);
  const deprecated = others.filter((s) => s.kind === "field" && s.deprecated).map((s) => `--${s.name}`);
  const left = `--${spec.name}${valueHint(field)}${negations.length ? `, ${negations.join(", ")}` : ""}`;
  const isRequired = !field.hasDefault || required.has(`${spec.target.section}.${field.key}`);
  const extra = [
    isRequired ? "(required)" : `(default: ${renderValue(field.defaultValue, field.meta.secret)})`,
    aliases.length ? `Also ${aliases.join(", ")}.` : "",
    deprecated.length ? `Deprecated: ${deprecated.join(", ")}.` : "",
  ].filter(Boolean);
  return entry(left, `${field.meta.description} ${extra.join(" ")}`);
}

/** The `--help` text of a program, generated from the schema metadata; under 100 columns. */
export function renderHelp(kind: PayloadKind, program: string): string {
  const table = flagTable(kind);
  const specs = [...new Set(table.flags.values())];
  const required = new Set(Object.keys(PAYLOAD_SPECS[kind].required ?? {}));
  const out: string[] = [];
  const usage =
    kind === "training"
      ? "--train-data-file FILE --n-groups N --output-dir DIR"
      : "--model-path DIR --test-data-file FILE --output-dir DIR";
  out.push(`Usage: ${program} ${usage} [options]`, "");
  out.push(
    ...wrap(
      kind === "training"
        ? "Train a PtychoPINN-style model. Every value is resolved from flags, config files, TRAINKIT_* variables, the data and defaults; --explain shows where each came from."
        : "Reconstruct objects from diffraction data with a trained model. The model's settings come from its bundle; --explain shows where each value came from.",
      0,
    ),
    "",
  );
  const byGroup = new Map<FlagGroup, string[]>();
  const push = (group: FlagGroup, lines: string[]) =>
    byGroup.set(group, [...(byGroup.get(group) ?? []), ...lines]);
  for (const spec of specs) {
    if (spec.kind !== "field" || !spec.primary) continue;
    const group = groupOf(spec.target);
    if (group === "Execution") continue;
    push(group, fieldLines(spec, specs, required));
  }
  for (const category of EXECUTION_CATEGORIES) {
    const lines = specs
      .filter(
        (s): s is Extract<FlagSpec, { kind: "field" }> =>
          s.kind === "field" && s.primary && s.target.field.meta.category === category,
      )
      .flatMap((s) => fieldLines(s, specs, required));
    if (lines.length) push("Execution", [`  [${category}]`, ...lines]);
  }
  for (const [name, option] of Object.entries(OPTIONS)) {
    push(option.group, entry(`--${name}${option.value ? ` ${option.value}` : ""}`, option.help));
  }
  push("Run", entry("--disable_mlflow", "Deprecated: same as --logger none --quiet."));
  for (const group of FLAG_GROUPS) {
    const lines = byGroup.get(group);
    if (!lines) continue;
    out.push(`${group}:`, ...lines, "");
  }
  out.push("Precedence (highest first; the highest level that sets a value wins):");
  for (const level of PRECEDENCE) {
    out.push(...entry(`${level.rank}. ${level.level}`, level.fromCommandLine));
  }
  out.push(
    "",
    ...wrap(
      "Environment: TRAINKIT_<SECTION>_<FIELD>, e.g. TRAINKIT_TRAINING_BATCH_SIZE=32 or TRAINKIT_EXECUTION_LEARNING_RATE=3e-4.",
      0,
    ),
    "Exit codes: 0 success, 2 usage or config error, 1 run failure, 130 interrupted.",
  );
  return `${out.join("\n")}\n`;
}
