import {
  ConfigError,
  type ConfigWarning,
  closestName,
  coerceFieldValue,
  isSecretName,
  renderValue,
  SECRET_MASK,
} from "@trainkit/config-meta";
import type { Layer, LayerEntry, Origin, PayloadKind, Source } from "@trainkit/factory";
import { match } from "ts-pattern";
import { UsageError } from "./errors.ts";
import { type FlagSpec, type FlagTable, flagTable } from "./flags.ts";
import {
  invalidValue,
  type LauncherFlags,
  type OptionState,
  type OutputFormat,
  optionSpec,
} from "./options.ts";
import { upstreamOnlyMessage } from "./upstream-flags.ts";

export {
  isDurationInRange,
  type LauncherFlags,
  MAX_DURATION_SECONDS,
  type OutputFormat,
  parseDuration,
} from "./options.ts";

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

/** One flag as typed: its spec, the name typed, its value (if it takes one) and the exact tokens. */
interface Lexed {
  readonly spec: FlagSpec;
  /** The name typed, without dashes. */
  readonly name: string;
  readonly value: string | undefined;
  /** The flag token alone (`--x` or `--x=v`). */
  readonly token: string;
  /** The tokens typed for it: `--x v`, `--x=v` or `--x`. */
  readonly typed: string;
}

/** How a flag takes its value: never, always, or when the next token is accepted. */
type Arity =
  | { readonly arity: "none" }
  | { readonly arity: "one" }
  | { readonly arity: "optional"; readonly accepts: (token: string) => boolean };

function arityOf(spec: FlagSpec): Arity {
  return match(spec)
    .returnType<Arity>()
    .with({ kind: "option" }, (s) => optionSpec(s.option))
    .with({ kind: "compound" }, () => ({ arity: "none" }))
    .with({ kind: "field" }, (s) => {
      if (s.fixed !== undefined) return { arity: "none" };
      const field = s.target.field;
      if (field.kind === "boolean")
        return { arity: "optional", accepts: (t: string) => BOOLEAN_WORDS.has(t.toLowerCase()) };
      if (field.kind === "union")
        return {
          arity: "optional",
          accepts: (t: string) =>
            BOOLEAN_WORDS.has(t.toLowerCase()) || field.choices.includes(t) || /^\d+$/.test(t),
        };
      return { arity: "one" };
    })
    .exhaustive();
}

/**
 * Lexing: splits argv into flags with their values, by the arity of each flag in the table. Throws
 * `UsageError` for a stray word (suggesting the flag it may have meant), an unknown flag (with the
 * closest valid one), a missing value, or a value given to a flag that takes none.
 */
function* lex(kind: PayloadKind, table: FlagTable, argv: readonly string[]): Generator<Lexed> {
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === "--") continue; // `pnpm train -- --flag` passes the separator through
    if (token === "-h") {
      yield { spec: table.flags.get("help")!, name: "help", value: undefined, token, typed: token };
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
          spec.kind === "option" && arityOf(spec).arity === "none"
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
    const arity = arityOf(spec);
    let value: string | undefined;
    if (arity.arity === "none") {
      // Field switches (`--no-x`) and compound flags refuse a value; options ignore one (unchanged).
      if (inline !== undefined && spec.kind !== "option") throw new UsageError(`--${name} takes no value.`);
    } else if (inline !== undefined) {
      value = inline;
    } else {
      const next = argv[i + 1];
      if (looksLikeValue(next) && (arity.arity === "one" || arity.accepts(next))) {
        i++;
        value = next;
      } else if (arity.arity === "one") {
        throw new UsageError(`--${name} needs a value.`);
      }
    }
    const typed = value === undefined || inline !== undefined ? token : `${token} ${value}`;
    yield { spec, name, value, token, typed };
  }
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
  const execution: LayerEntry[] = [];
  const warnings: ConfigWarning[] = [];
  const state: OptionState = {
    targets: table.targets,
    sources: [],
    override: [],
    issues: [],
    valueTokens: [],
    launcher: {},
    actions: {
      help: false,
      version: false,
      printConfig: false,
      explain: undefined,
      format: undefined,
      dryRun: false,
      overwrite: false,
      resume: false,
    },
    payload: undefined,
    payloadSha256: undefined,
  };
  const push = (level: "override" | "execution", entry: LayerEntry) => {
    state.valueTokens.push((entry.origin as { token?: string }).token ?? entry.path);
    (level === "override" ? state.override : execution).push(entry);
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
          state.issues.push(invalidValue(path, target.field, coerced.message, raw, origin));
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

  // Interpreting: each flag sets what its row says.
  for (const { spec, name, value, token, typed } of lex(kind, table, argv)) {
    match(spec)
      .with({ kind: "field" }, (s) => setField(s, value, typed))
      .with({ kind: "compound" }, (s) => {
        for (const set of s.sets) {
          push(set.target.level, {
            path: `${set.target.section}.${set.target.field.key}`,
            value: set.value,
            origin: { kind: "cli", token },
          });
        }
        warnings.push({
          code: "DEPRECATED_NAME",
          path: `--${name}`,
          message: `--${name} is deprecated; use ${s.deprecated.instead}.`,
        });
      })
      .with({ kind: "option" }, (s) => {
        const option = optionSpec(s.option);
        match(option)
          .with({ arity: "none" }, (o) => o.apply(state))
          .with({ arity: "one" }, (o) => o.apply(value!, state))
          .with({ arity: "optional" }, (o) => o.apply(value, state))
          .exhaustive();
      })
      .exhaustive();
  }
  const { payload, payloadSha256, valueTokens, issues, actions } = state;
  if (payload !== undefined && valueTokens.length > 0) {
    throw new UsageError(
      `--payload runs a resolved payload as it is, so ${[...new Set(valueTokens)].map((t) => `"${t}"`).join(", ")} cannot change it. Drop ${valueTokens.length === 1 ? "it" : "them"}, or build a new payload without --payload.`,
    );
  }
  if (issues.length > 0) throw new ConfigError(issues);
  if (payloadSha256 !== undefined && payload === undefined)
    throw new UsageError("--payload-sha256 checks the file of --payload; give --payload FILE too.");
  if (actions.overwrite && actions.resume)
    throw new UsageError("--overwrite and --resume exclude each other.");
  return {
    kind,
    layers: [
      { level: "execution", entries: execution },
      { level: "override", entries: state.override },
    ],
    sources: [...state.sources, { kind: "env", env }],
    warnings,
    launcher: state.launcher,
    ...actions,
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
