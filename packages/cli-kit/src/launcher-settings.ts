import { ConfigError, type ConfigIssue, closestName } from "@trainkit/config-meta";
import { loadConfigFile, type Source } from "@trainkit/factory";
import { BACKEND_NAMES, type BackendName, DIALECTS, type Dialect } from "@trainkit/launcher";
import { isDurationInRange, type ParsedArgs, parseDuration } from "./parse-argv.ts";

/** How to run, from `launcher:` sections of config files and the Run flags (flags win). Not part of the payload. */
export interface LauncherSettings {
  readonly backend: BackendName;
  readonly command?: string;
  readonly dialect: Dialect;
  readonly allowDropped: boolean;
  /** Seconds, or null for no limit. */
  readonly timeout: number | null;
  /** Seconds between SIGINT, SIGTERM and SIGKILL when stopping a program (config files only). */
  readonly stopGrace: number;
}

const KEYS = ["backend", "command", "dialect", "allowDropped", "timeout", "stopGrace"] as const;
type Key = (typeof KEYS)[number];

function check(key: Key, value: unknown): { ok: true; value: unknown } | { ok: false; message: string } {
  switch (key) {
    case "backend":
      return typeof value === "string" && (BACKEND_NAMES as readonly string[]).includes(value)
        ? { ok: true, value }
        : { ok: false, message: `must be one of ${BACKEND_NAMES.join(", ")}` };
    case "dialect":
      return typeof value === "string" && (DIALECTS as readonly string[]).includes(value)
        ? { ok: true, value }
        : { ok: false, message: `must be one of ${DIALECTS.join(", ")}` };
    case "command":
      return typeof value === "string" && value.trim() !== ""
        ? { ok: true, value }
        : { ok: false, message: "must be a command line" };
    case "allowDropped":
      return typeof value === "boolean"
        ? { ok: true, value }
        : { ok: false, message: "must be true or false" };
    case "stopGrace":
    case "timeout": {
      const seconds =
        typeof value === "number"
          ? isDurationInRange(value)
            ? value
            : undefined
          : typeof value === "string"
            ? parseDuration(value)
            : undefined;
      return seconds === undefined
        ? { ok: false, message: "must be a duration such as 90, 30m or 2h, at most 24 days (576h)" }
        : { ok: true, value: seconds };
    }
  }
}

/**
 * Reads each `--config` file once, in order: its layer serves the launcher settings here and the
 * factory after (a file source that carries its layer is not read again).
 */
export async function loadFileSources(args: ParsedArgs): Promise<ParsedArgs> {
  const sources: Source[] = [];
  for (const source of args.sources)
    sources.push(
      source.kind === "file" && source.layer === undefined
        ? { ...source, layer: await loadConfigFile(source.path) }
        : source,
    );
  return { ...args, sources };
}

/** Resolves the launcher settings; a bad key or value is a `ConfigError` naming its origin. */
export async function resolveLauncherSettings(args: ParsedArgs): Promise<LauncherSettings> {
  const values: Partial<Record<Key, unknown>> = {};
  const issues: ConfigIssue[] = [];
  for (const source of args.sources) {
    if (source.kind !== "file") continue;
    for (const entry of (source.layer ?? (await loadConfigFile(source.path))).entries) {
      if (!entry.path.startsWith("launcher")) continue;
      const key = entry.path.slice("launcher.".length);
      const origin = entry.origin;
      if (!(KEYS as readonly string[]).includes(key)) {
        const best = closestName(key, KEYS);
        issues.push({
          code: "UNKNOWN_KEY",
          path: entry.path,
          message: "is not a launcher setting",
          hasValue: true,
          value: entry.value,
          origin,
          hint: best ? `Did you mean "launcher.${best}"?` : `Launcher settings are ${KEYS.join(", ")}.`,
        });
        continue;
      }
      const checked = check(key as Key, entry.value);
      if (checked.ok) values[key as Key] = checked.value;
      else
        issues.push({
          code: "INVALID_VALUE",
          path: entry.path,
          message: checked.message,
          hasValue: true,
          value: entry.value,
          origin,
        });
    }
  }
  const flags = args.launcher;
  for (const key of KEYS) {
    const flag = key === "stopGrace" ? undefined : flags[key];
    if (flag === undefined) continue;
    const checked = check(key, flag);
    if (checked.ok) values[key] = checked.value;
    else {
      issues.push({
        code: "INVALID_VALUE",
        path: `launcher.${key}`,
        message: checked.message,
        hasValue: true,
        value: flag,
        origin: `--${key === "allowDropped" ? "allow-dropped" : key} on the command line`,
      });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return {
    backend: (values.backend as BackendName | undefined) ?? "embedded",
    ...(values.command !== undefined ? { command: values.command as string } : {}),
    dialect: (values.dialect as Dialect | undefined) ?? "payload",
    allowDropped: values.allowDropped === true,
    timeout: (values.timeout as number | undefined) ?? null,
    stopGrace: (values.stopGrace as number | undefined) ?? 10,
  };
}

/** The options the launcher records in the manifest and hands the backend. */
export function launcherOptions(settings: LauncherSettings): Record<string, unknown> {
  if (settings.backend !== "process") return {};
  return {
    command: settings.command,
    dialect: settings.dialect,
    allowDropped: settings.allowDropped,
    timeout: settings.timeout,
    graceSeconds: settings.stopGrace,
  };
}
