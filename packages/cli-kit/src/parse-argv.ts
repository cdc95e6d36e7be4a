import {
  ConfigError,
  type ConfigIssue,
  type ConfigWarning,
  closestName,
  coerceFieldValue,
  isSecretName,
  renderValue,
  SECRET_MASK,
} from "@trainkit/config-meta";
import type { Layer, LayerEntry, Origin, PayloadKind, Source } from "@trainkit/factory";
import { UsageError } from "./errors.ts";
import { type FlagSpec, flagTable } from "./flags.ts";
import { upstreamOnlyMessage } from "./upstream-flags.ts";

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

/** What a command line asks for. Only what the user typed becomes a layer. */
export interface ParsedArgs {
  readonly kind: PayloadKind;
  /** Flags at the override level and at the execution level. */
  readonly layers: readonly Layer[];
  /** Config files, legacy params, a previous run, and the environment. */
  readonly sources: readonly Source[];
  readonly warnings: readonly ConfigWarning[];
  readonly help: boolean;
  readonly version: boolean;
  readonly printConfig: boolean;
  /** `--explain` alone: true; `--explain PATH`: the path. */
  readonly explain: string | true | undefined;
  readonly format: OutputFormat | undefined;
  readonly dryRun: boolean;
  /** Launcher settings typed on the command line (config files may add more; flags win). */
  readonly launcher: LauncherFlags;
  readonly overwrite: boolean;
  readonly resume: boolean;
  /** `--payload FILE`: run this resolved payload as it is. */
  readonly payload?: string;
  /** `--payload-sha256 HEX`, lower case. */
  readonly payloadSha256?: string;
}

const BOOLEAN_WORDS = new Set(["true", "false", "yes", "no", "1", "0"]);

function looksLikeValue(token: string | undefined): token is string {
  return token !== undefined && (!token.startsWith("-") || /^-\d|^-\.\d/.test(token));
}

/**
 * Turns argv into layers and sources. Flags become `cli` origins carrying the exact tokens typed; a
 * flag given twice keeps both entries (the last wins, the audit shows both). Throws `UsageError` for
 * an unknown flag (with the closest valid one) or a stray word, and `ConfigError` for a value of the
 * wrong type (naming the flag).
 */
export function parseArgv(
  kind: PayloadKind,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ParsedArgs {
  const table = flagTable(kind);
  const override: LayerEntry[] = [];
  const execution: LayerEntry[] = [];
  const sources: Source[] = [];
  const warnings: ConfigWarning[] = [];
  const issues: ConfigIssue[] = [];
  const state = {
    help: false,
    version: false,
    printConfig: false,
    explain: undefined as string | true | undefined,
    format: undefined as OutputFormat | undefined,
    dryRun: false,
    overwrite: false,
    resume: false,
  };
  let payload: string | undefined;
  let payloadSha256: string | undefined;
  /** Tokens that set values: refused beside --payload. */
  const valueTokens: string[] = [];
  const launcher: { -readonly [K in keyof LauncherFlags]: LauncherFlags[K] } = {};
  const push = (level: "override" | "execution", entry: LayerEntry) => {
    valueTokens.push((entry.origin as { token?: string }).token ?? entry.path);
    (level === "override" ? override : execution).push(entry);
  };

  const setField = (spec: Extract<FlagSpec, { kind: "field" }>, raw: string | undefined, typed: string) => {
    const { target } = spec;
    const path = `${target.section}.${target.field.key}`;
    // A secret's value never enters an origin: `--mlflow-tracking-uri ***`.
    const token =
      target.field.meta.secret === true && raw !== undefined && typed.endsWith(raw)
        ? `${typed.slice(0, typed.length - raw.length)}${SECRET_MASK}`
        : typed;
    const origin: Origin = { kind: "cli", token };
    let value: unknown = spec.fixed;
    if (value === undefined) {
      if (raw === undefined) {
        value = target.field.kind === "boolean" || target.field.kind === "union" ? true : undefined;
        if (value === undefined)
          throw new UsageError(`--${spec.name} needs a value (${target.field.meta.valueName ?? "VALUE"}).`);
      } else {
        const mapped = spec.deprecated?.values?.[raw] ?? raw;
        const coerced = coerceFieldValue(target.field, mapped);
        if (!coerced.ok) {
          issues.push({
            code: "INVALID_VALUE",
            path,
            message: coerced.message,
            hasValue: true,
            value: raw,
            origin: `"${token}" on the command line`,
            ...(target.field.meta.secret ? { secret: true } : {}),
          });
          return;
        }
        value = coerced.value;
      }
    }
    if (spec.deprecated) {
      warnings.push({
        code: "DEPRECATED_NAME",
        path,
        message: `--${spec.name} is deprecated; use ${spec.deprecated.instead}${spec.deprecated.values && raw !== undefined && spec.deprecated.values[raw] ? ` (--${spec.name} ${raw} means ${spec.deprecated.instead} ${renderValue(spec.deprecated.values[raw]).replace(/"/g, "")})` : ""}.`,
      });
    }
    push(target.level, { path, value, origin });
  };

  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === "--") continue; // `pnpm train -- --flag` passes the separator through
    if (token === "-h") {
      state.help = true;
      continue;
    }
    if (!token.startsWith("--")) {
      const word = token.replace(/^-+/, "");
      const next = argv[i + 1];
      const spec = table.flags.get(word) ?? table.flags.get(word.replace(/_/g, "-"));
      if (spec) {
        const secret =
          (spec.kind === "field" && spec.target.field.meta.secret === true) || isSecretName(word);
        const example =
          spec.kind === "option" && spec.takesValue === false
            ? `--${spec.name}`
            : `--${spec.name}${looksLikeValue(next) ? ` ${secret ? SECRET_MASK : next}` : ""}`;
        throw new UsageError(`unexpected argument "${token}". Did you mean ${example}?`);
      }
      throw new UsageError(`unexpected argument "${token}": trainkit takes only --flags (see --help).`);
    }
    const eq = token.indexOf("=");
    const name = eq === -1 ? token.slice(2) : token.slice(2, eq);
    const inline = eq === -1 ? undefined : token.slice(eq + 1);
    const spec = table.flags.get(name);
    if (!spec) {
      const upstreamOnly = upstreamOnlyMessage(kind, name);
      if (upstreamOnly) throw new UsageError(upstreamOnly);
      const best = closestName(
        name,
        [...table.flags.values()].filter((s) => s.primary || s.kind === "field").map((s) => s.name),
      );
      throw new UsageError(
        `unknown option --${name}.${best ? ` Did you mean --${best}?` : " See --help for every option."}`,
      );
    }
    const takeValue = (
      optional: boolean,
      accept: (t: string) => boolean = () => true,
    ): string | undefined => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (looksLikeValue(next) && accept(next)) {
        i++;
        return next;
      }
      if (optional) return undefined;
      throw new UsageError(`--${name} needs a value.`);
    };
    const typed = (value: string | undefined) =>
      value === undefined ? token : inline !== undefined ? token : `${token} ${value}`;

    if (spec.kind === "field") {
      if (spec.fixed !== undefined) {
        if (inline !== undefined) throw new UsageError(`--${name} takes no value.`);
        setField(spec, undefined, token);
        continue;
      }
      const fieldKind = spec.target.field.kind;
      const optional = fieldKind === "boolean" || fieldKind === "union";
      const accept =
        fieldKind === "boolean"
          ? (t: string) => BOOLEAN_WORDS.has(t.toLowerCase())
          : fieldKind === "union"
            ? (t: string) =>
                BOOLEAN_WORDS.has(t.toLowerCase()) || spec.target.field.choices.includes(t) || /^\d+$/.test(t)
            : undefined;
      const raw = takeValue(optional, accept);
      setField(spec, raw, typed(raw));
      continue;
    }
    if (spec.kind === "compound") {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value.`);
      for (const set of spec.sets) {
        push(set.target.level, {
          path: `${set.target.section}.${set.target.field.key}`,
          value: set.value,
          origin: { kind: "cli", token },
        });
      }
      warnings.push({
        code: "DEPRECATED_NAME",
        path: `--${name}`,
        message: `--${name} is deprecated; use ${spec.deprecated.instead}.`,
      });
      continue;
    }
    switch (spec.option) {
      case "config": {
        const path = takeValue(false)!;
        valueTokens.push(`--config ${path}`);
        sources.push({ kind: "file", path });
        break;
      }
      case "legacy-params": {
        const path = takeValue(false)!;
        valueTokens.push(`--legacy-params ${path}`);
        sources.push({ kind: "legacy", path });
        break;
      }
      case "from-run": {
        const dir = takeValue(false)!;
        valueTokens.push(`--from-run ${dir}`);
        sources.push({ kind: "run", dir });
        break;
      }
      case "payload":
        if (payload !== undefined) throw new UsageError("--payload is given twice; a run runs one payload.");
        payload = takeValue(false)!;
        break;
      case "payload-sha256": {
        const hex = takeValue(false)!;
        if (!/^[0-9a-fA-F]{64}$/.test(hex))
          throw new UsageError(`--payload-sha256 needs 64 hexadecimal digits, got "${hex}".`);
        payloadSha256 = hex.toLowerCase();
        break;
      }
      case "set": {
        const assignment = takeValue(false)!;
        const at = assignment.indexOf("=");
        if (at <= 0)
          throw new UsageError(
            `--set needs PATH=VALUE, e.g. --set training.batchSize=32; got "${assignment}".`,
          );
        const path = assignment.slice(0, at);
        const target = table.targets.get(path);
        const shown =
          target?.field.meta.secret === true || isSecretName(path) ? `${path}=${SECRET_MASK}` : assignment;
        if (!target) {
          const best = closestName(path, table.targets.keys());
          throw new UsageError(
            `--set ${shown}: "${path}" is not a setting.${best ? ` Did you mean ${best}?` : ""}`,
          );
        }
        const raw = assignment.slice(at + 1);
        const coerced = coerceFieldValue(target.field, raw);
        const origin: Origin = { kind: "cli", token: `--set ${shown}` };
        if (!coerced.ok) {
          issues.push({
            code: "INVALID_VALUE",
            path: `${target.section}.${target.field.key}`,
            message: coerced.message,
            hasValue: true,
            value: raw,
            origin: `"--set ${shown}" on the command line`,
            ...(target.field.meta.secret ? { secret: true } : {}),
          });
          break;
        }
        valueTokens.push(`--set ${assignment}`);
        override.push({ path, value: coerced.value, origin });
        break;
      }
      case "backend":
        launcher.backend = takeValue(false)!;
        break;
      case "command":
        launcher.command = takeValue(false)!;
        break;
      case "dialect":
        launcher.dialect = takeValue(false)!;
        break;
      case "allow-dropped":
        launcher.allowDropped = true;
        break;
      case "timeout": {
        const text = takeValue(false)!;
        const seconds = parseDuration(text);
        if (seconds === undefined)
          throw new UsageError(
            `--timeout needs a duration such as 90, 30m or 2h, at most 24 days (576h); got "${text}".`,
          );
        launcher.timeout = seconds;
        break;
      }
      case "overwrite":
        state.overwrite = true;
        break;
      case "resume":
        state.resume = true;
        break;
      case "print-config":
        state.printConfig = true;
        break;
      case "explain":
        state.explain = takeValue(true, (t) => t.includes(".")) ?? true;
        break;
      case "format": {
        const format = takeValue(false)!;
        if (format !== "yaml" && format !== "json")
          throw new UsageError(`--format must be yaml or json, got "${format}".`);
        state.format = format;
        break;
      }
      case "dry-run":
        state.dryRun = true;
        break;
      case "help":
        state.help = true;
        break;
      case "version":
        state.version = true;
        break;
    }
  }
  if (payload !== undefined && valueTokens.length > 0) {
    throw new UsageError(
      `--payload runs a resolved payload as it is, so ${[...new Set(valueTokens)].map((t) => `"${t}"`).join(", ")} cannot change it. Drop ${valueTokens.length === 1 ? "it" : "them"}, or build a new payload without --payload.`,
    );
  }
  if (issues.length > 0) throw new ConfigError(issues);
  if (payloadSha256 !== undefined && payload === undefined)
    throw new UsageError("--payload-sha256 checks the file of --payload; give --payload FILE too.");
  if (state.overwrite && state.resume) throw new UsageError("--overwrite and --resume exclude each other.");
  sources.push({ kind: "env", env });
  return {
    kind,
    layers: [
      { level: "execution", entries: execution },
      { level: "override", entries: override },
    ],
    sources,
    warnings,
    launcher,
    ...state,
    ...(payload !== undefined ? { payload } : {}),
    ...(payloadSha256 !== undefined ? { payloadSha256 } : {}),
  };
}

/** Names of the TRAINKIT_* variables present (recorded in manifests, never their values). */
export function trainkitVariables(env: Readonly<Record<string, string | undefined>>): string[] {
  return Object.keys(env)
    .filter((name) => name.startsWith("TRAINKIT_") && env[name] !== undefined)
    .sort();
}
