import { listProblems } from "./coded-error.ts";
import { describeOrigin, type Origin } from "./origin.ts";
import { isSecretName, maskUriCredentials, SECRET_MASK } from "./redact.ts";

/** What can be wrong with one value. */
export type ConfigIssueCode =
  | "INVALID_VALUE"
  | "UNKNOWN_KEY"
  | "ALIAS_CONFLICT"
  | "MISSING_VALUE"
  | "NOT_AN_OBJECT"
  | "RULE_VIOLATION"
  | "CONFLICT";

/** One problem with one field, ready to be shown to a person. */
export interface ConfigIssue {
  readonly code: ConfigIssueCode;
  /** Dotted path, e.g. `training.batchSize`. */
  readonly path: string;
  /** What is wrong, without the value: `must be a power of two`. */
  readonly message: string;
  /** Whether `value` is meaningful (a missing value has none). */
  readonly hasValue: boolean;
  readonly value?: unknown;
  /**
   * Where the value came from: the audit's `Origin` (rendered by `describeOrigin` only when the
   * issue is shown), or a phrase where no origin kind fits, e.g. `--batch-size on the command line`.
   */
  readonly origin?: Origin | string;
  /** How to fix it, e.g. `Did you mean "batchSize"?`. */
  readonly hint?: string;
  /** Show the value as `***`. */
  readonly secret?: boolean;
}

/** The codes of non-fatal findings. */
export type ConfigWarningCode =
  | "DEPRECATED_NAME"
  | "DETERMINISTIC_WITH_WORKERS"
  | "UNUSED_SETTING"
  | "INFERRED_CONFLICT"
  | "IGNORED_SETTING"
  | "DATA_CONTRACT"
  | "SUSPICIOUS_VALUE";

/** A finding that never fails a run but is always shown. */
export interface ConfigWarning {
  readonly code: ConfigWarningCode;
  readonly path: string;
  readonly message: string;
}

export { SECRET_MASK };

/** Renders a value for a message: strings quoted, numbers as typed, long values shortened. */
export function renderValue(value: unknown, secret = false): string {
  if (secret) return SECRET_MASK;
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  if (value === undefined) return "undefined";
  const text = maskUriCredentials(JSON.stringify(value) ?? String(value));
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** An issue's origin in words: `describeOrigin` of an `Origin`, a phrase as it is. */
export function renderOrigin(origin: Origin | string): string {
  return typeof origin === "string" ? origin : describeOrigin(origin);
}

/** `training.batchSize: must be a power of two, got 12 (from --batch-size on the command line).` */
export function formatIssue(issue: ConfigIssue): string {
  // A value under a secret-looking name is masked even when the name is not a known setting.
  const secret = issue.secret === true || isSecretName(issue.path);
  const got = issue.hasValue ? `, got ${renderValue(issue.value, secret)}` : "";
  const origin = issue.origin ? ` (from ${maskUriCredentials(renderOrigin(issue.origin))})` : "";
  const hint = issue.hint ? ` ${issue.hint}` : "";
  return `${issue.path}: ${issue.message}${got}${origin}.${hint}`;
}

/** A config that cannot be used. `issues` lists every problem found, not just the first. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly code: ConfigIssueCode;
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], options?: { cause?: unknown }) {
    const first = issues[0];
    if (!first) throw new TypeError("ConfigError needs at least one issue");
    super(listProblems(undefined, issues.map(formatIssue)), options);
    this.code = first.code;
    this.issues = issues;
  }
}

/** Type guard for `ConfigError`, optionally of one code; works across package copies. */
export function isConfigError(value: unknown, code?: ConfigIssueCode): value is ConfigError {
  return (
    value instanceof Error &&
    value.name === "ConfigError" &&
    Array.isArray((value as Partial<ConfigError>).issues) &&
    (code === undefined || (value as ConfigError).code === code)
  );
}
