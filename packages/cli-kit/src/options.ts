// The options of trainkit-train and trainkit-infer that are not config fields: one row per option
// holds its name (the key), its arity, what it sets, its help group and its help text, so a new
// option is one row. Field flags come from the schema metadata instead (flags.ts).
import {
  type ConfigIssue,
  closestName,
  coerceFieldValue,
  type FieldInfo,
  isSecretName,
  SECRET_MASK,
} from "@trainkit/config-meta";
import type { LayerEntry, Origin, Source } from "@trainkit/factory";
import { UsageError } from "./errors.ts";

export type OutputFormat = "yaml" | "json";

export interface LauncherFlags {
  readonly backend?: string;
  readonly command?: string;
  readonly dialect?: string;
  readonly allowDropped?: boolean;
  /** Seconds. */
  readonly timeout?: number;
}

/** The longest `--timeout` / `launcher.timeout`: 24 days (Node's timers hold at most 24.8 days). */
export const MAX_DURATION_SECONDS = 24 * 24 * 3600;

/** Whether a number of seconds is a usable duration: finite, above 0, at most 24 days. */
export function isDurationInRange(seconds: number): boolean {
  return Number.isFinite(seconds) && seconds > 0 && seconds <= MAX_DURATION_SECONDS;
}

/** `90`, `90s`, `30m`, `2h` -> seconds; undefined when malformed or out of range (see MAX_DURATION_SECONDS). */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(text.trim());
  if (!m) return undefined;
  const seconds = Number(m[1]) * (m[2] === "h" ? 3600 : m[2] === "m" ? 60 : 1);
  return isDurationInRange(seconds) ? seconds : undefined;
}

/** A field a `--set` path names (the flag table's targets). */
export interface SetTarget {
  readonly section: string;
  readonly field: FieldInfo;
}

/** What the options of one command line set while it is interpreted (parseArgv's state). */
/** A flag's value that its field refuses: the issue names the path, the value as typed and its flag. */
export function invalidValue(
  path: string,
  field: { readonly meta: { readonly secret?: boolean } },
  message: string,
  raw: string,
  origin: Origin,
): ConfigIssue {
  return {
    code: "INVALID_VALUE",
    path,
    message,
    hasValue: true,
    value: raw,
    origin,
    ...(field.meta.secret ? { secret: true } : {}),
  };
}

export interface OptionState {
  /** Fields by `section.key` and alias path, for `--set`. */
  readonly targets: ReadonlyMap<string, SetTarget>;
  readonly sources: Source[];
  /** Override-level entries (`--set`). */
  readonly override: LayerEntry[];
  readonly issues: ConfigIssue[];
  /** Tokens that set values: refused beside --payload. */
  readonly valueTokens: string[];
  readonly launcher: { -readonly [K in keyof LauncherFlags]: LauncherFlags[K] };
  readonly actions: {
    help: boolean;
    version: boolean;
    printConfig: boolean;
    /** `--explain` alone: true; `--explain PATH`: the path. */
    explain: string | true | undefined;
    format: OutputFormat | undefined;
    dryRun: boolean;
    overwrite: boolean;
    resume: boolean;
  };
  payload: string | undefined;
  payloadSha256: string | undefined;
}

interface OptionHelp {
  /** Help group (see FLAG_GROUPS in flags.ts). */
  readonly group: "Configuration" | "Run" | "Actions";
  /** The value's placeholder in help, "" for a switch. */
  readonly value: string;
  readonly help: string;
}

/** One option: its help, its arity (how it takes a value) and what it sets. */
export type OptionSpec = OptionHelp &
  (
    | { readonly arity: "none"; readonly apply: (state: OptionState) => void }
    | { readonly arity: "one"; readonly apply: (value: string, state: OptionState) => void }
    | {
        readonly arity: "optional";
        /** Whether the next token is this option's value (else the option stands alone). */
        readonly accepts: (token: string) => boolean;
        readonly apply: (value: string | undefined, state: OptionState) => void;
      }
  );

function applySet(assignment: string, state: OptionState): void {
  const at = assignment.indexOf("=");
  if (at <= 0)
    throw new UsageError(`--set needs PATH=VALUE, e.g. --set training.batchSize=32; got "${assignment}".`);
  const path = assignment.slice(0, at);
  const target = state.targets.get(path);
  const shown =
    target?.field.meta.secret === true || isSecretName(path) ? `${path}=${SECRET_MASK}` : assignment;
  if (!target) {
    const best = closestName(path, state.targets.keys());
    throw new UsageError(
      `--set ${shown}: "${path}" is not a setting.${best ? ` Did you mean ${best}?` : ""}`,
    );
  }
  const raw = assignment.slice(at + 1);
  const coerced = coerceFieldValue(target.field, raw);
  const origin: Origin = { kind: "cli", token: `--set ${shown}` };
  if (!coerced.ok) {
    state.issues.push(
      invalidValue(`${target.section}.${target.field.key}`, target.field, coerced.message, raw, origin),
    );
    return;
  }
  state.valueTokens.push(`--set ${shown}`);
  state.override.push({ path, value: coerced.value, origin });
}

/** Flags that are not config fields, in help order. */
export const OPTIONS = {
  config: {
    group: "Configuration",
    value: "FILE",
    help: "Read a YAML or JSON config file (repeatable; later files win).",
    arity: "one",
    apply: (path, s) => {
      s.valueTokens.push(`--config ${path}`);
      s.sources.push({ kind: "file", path });
    },
  },
  "legacy-params": {
    group: "Configuration",
    value: "FILE",
    help: "Read a legacy params.cfg dictionary (JSON, upstream key names).",
    arity: "one",
    apply: (path, s) => {
      s.valueTokens.push(`--legacy-params ${path}`);
      s.sources.push({ kind: "legacy", path });
    },
  },
  "from-run": {
    group: "Configuration",
    value: "DIR",
    help: "Start from the payload of a previous run (lowest config source).",
    arity: "one",
    apply: (dir, s) => {
      s.valueTokens.push(`--from-run ${dir}`);
      s.sources.push({ kind: "run", dir });
    },
  },
  payload: {
    group: "Configuration",
    value: "FILE",
    help: "Run exactly the resolved payload in FILE (a payload.json written earlier); no other settings.",
    arity: "one",
    apply: (file, s) => {
      if (s.payload !== undefined) throw new UsageError("--payload is given twice; a run runs one payload.");
      s.payload = file;
    },
  },
  "payload-sha256": {
    group: "Configuration",
    value: "HEX",
    help: "With --payload: refuse unless the payload's SHA-256 (as manifests record it) is HEX.",
    arity: "one",
    apply: (hex, s) => {
      if (!/^[0-9a-fA-F]{64}$/.test(hex))
        throw new UsageError(`--payload-sha256 needs 64 hexadecimal digits, got "${hex}".`);
      s.payloadSha256 = hex.toLowerCase();
    },
  },
  set: {
    group: "Configuration",
    value: "PATH=VALUE",
    help: "Set any field, e.g. --set training.batchSize=32 (override level).",
    arity: "one",
    apply: applySet,
  },
  backend: {
    group: "Run",
    value: "NAME",
    help: "Where to run: embedded (default, in this process) or process (an external program).",
    arity: "one",
    apply: (name, s) => {
      s.launcher.backend = name;
    },
  },
  command: {
    group: "Run",
    value: "CMD",
    help: 'process backend: the program to run, e.g. "python3 -m ptycho_torch.train" (no shell).',
    arity: "one",
    apply: (command, s) => {
      s.launcher.command = command;
    },
  },
  dialect: {
    group: "Run",
    value: "payload|ptycho-torch",
    help: "process backend: pass --payload FILE (default) or upstream ptycho_torch flags.",
    arity: "one",
    apply: (dialect, s) => {
      s.launcher.dialect = dialect;
    },
  },
  "allow-dropped": {
    group: "Run",
    value: "",
    help: "process backend: run even when the program has no flag for a setting (recorded as dropped).",
    arity: "none",
    apply: (s) => {
      s.launcher.allowDropped = true;
    },
  },
  timeout: {
    group: "Run",
    value: "DURATION",
    help: "process backend: stop the program after this long (e.g. 90, 30m, 2h).",
    arity: "one",
    apply: (text, s) => {
      const seconds = parseDuration(text);
      if (seconds === undefined)
        throw new UsageError(
          `--timeout needs a duration such as 90, 30m or 2h, at most 24 days (576h); got "${text}".`,
        );
      s.launcher.timeout = seconds;
    },
  },
  overwrite: {
    group: "Run",
    value: "",
    help: "Replace an existing non-empty run directory.",
    arity: "none",
    apply: (s) => {
      s.actions.overwrite = true;
    },
  },
  resume: {
    group: "Run",
    value: "",
    help: "Continue the run in the output directory from its last checkpoint.",
    arity: "none",
    apply: (s) => {
      s.actions.resume = true;
    },
  },
  "print-config": {
    group: "Actions",
    value: "",
    help: "Print the resolved payload and exit (see --format).",
    arity: "none",
    apply: (s) => {
      s.actions.printConfig = true;
    },
  },
  explain: {
    group: "Actions",
    value: "[PATH]",
    help: "Print where each value (or PATH's) came from and what it shadowed, and exit.",
    arity: "optional",
    accepts: (token) => token.includes("."),
    apply: (path, s) => {
      s.actions.explain = path ?? true;
    },
  },
  format: {
    group: "Actions",
    value: "yaml|json",
    help: "Output format of --print-config and --explain (default yaml; text for --explain).",
    arity: "one",
    apply: (format, s) => {
      if (format !== "yaml" && format !== "json")
        throw new UsageError(`--format must be yaml or json, got "${format}".`);
      s.actions.format = format;
    },
  },
  "dry-run": {
    group: "Actions",
    value: "",
    help: "Resolve, validate and check the backend's capabilities; write nothing.",
    arity: "none",
    apply: (s) => {
      s.actions.dryRun = true;
    },
  },
  help: {
    group: "Actions",
    value: "",
    help: "Show this help and exit.",
    arity: "none",
    apply: (s) => {
      s.actions.help = true;
    },
  },
  version: {
    group: "Actions",
    value: "",
    help: "Show the version and exit.",
    arity: "none",
    apply: (s) => {
      s.actions.version = true;
    },
  },
} as const satisfies Record<string, OptionSpec>;
export type OptionName = keyof typeof OPTIONS;

/** The row of an option, typed as the union (for code that handles every option alike). */
export function optionSpec(name: OptionName): OptionSpec {
  return OPTIONS[name];
}
