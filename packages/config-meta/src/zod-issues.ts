import type * as z from "zod";
import { type ConfigIssue, renderValue } from "./errors.ts";
import { closestName as closest } from "./suggest.ts";

const TYPE_WORDS: Record<string, string> = {
  int: "an integer",
  number: "a finite number",
  boolean: "true or false",
  string: "a string",
  array: "a list",
  object: "a mapping of keys to values",
  null: "null",
};

/** House-style messages for zod issues (used when a schema does not give its own). */
export function houseMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case "invalid_type":
      return `must be ${TYPE_WORDS[issue.expected] ?? issue.expected}`;
    case "too_small": {
      const min = String(issue.minimum);
      if (issue.origin === "array") return `must have at least ${min} item${min === "1" ? "" : "s"}`;
      if (issue.origin === "string")
        return min === "1" ? "must not be empty" : `must have at least ${min} characters`;
      return `must be ${issue.inclusive ? ">=" : ">"} ${min}`;
    }
    case "too_big": {
      const max = String(issue.maximum);
      if (issue.origin === "array") return `must have at most ${max} items`;
      if (issue.origin === "string") return `must have at most ${max} characters`;
      return `must be ${issue.inclusive ? "<=" : "<"} ${max}`;
    }
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => renderValue(v)).join(", ")}`;
    case "invalid_union":
      return "has an invalid value";
    case "not_multiple_of":
      return `must be a multiple of ${String(issue.divisor)}`;
    default:
      return undefined;
  }
}

function joinPath(prefix: string, path: readonly PropertyKey[]): string {
  return [prefix, ...path.map(String)].filter((s) => s !== "").join(".");
}

/**
 * Converts zod issues into trainkit issues. `input` is the parsed input (for the values of unknown
 * keys); `knownKeys(path)` lists the valid keys of the object at `path`, for did-you-mean hints.
 */
export function fromZodIssues(
  issues: readonly z.core.$ZodIssue[],
  options: {
    readonly prefix: string;
    readonly input: unknown;
    readonly knownKeys: (path: readonly PropertyKey[]) => readonly string[];
    readonly isSecret?: (path: readonly PropertyKey[]) => boolean;
  },
): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      const container = issue.path.reduce<unknown>(
        (acc, key) =>
          acc && typeof acc === "object" ? (acc as Record<PropertyKey, unknown>)[key] : undefined,
        options.input,
      );
      const known = options.knownKeys(issue.path);
      for (const key of issue.keys) {
        const best = closest(key, known);
        out.push({
          code: "UNKNOWN_KEY",
          path: joinPath(options.prefix, [...issue.path, key]),
          message: "is not a known setting",
          hasValue: false,
          ...(container && typeof container === "object"
            ? { hasValue: true, value: (container as Record<string, unknown>)[key] }
            : {}),
          hint: best
            ? `Did you mean "${best}"?`
            : "See docs/configuration.md for the settings of this section.",
        });
      }
      continue;
    }
    const hasInput = "input" in issue;
    const secret = options.isSecret?.(issue.path) ?? false;
    out.push({
      code: issue.input === undefined && issue.code === "invalid_type" ? "MISSING_VALUE" : "INVALID_VALUE",
      path: joinPath(options.prefix, issue.path),
      message: issue.input === undefined && issue.code === "invalid_type" ? "is required" : issue.message,
      hasValue: hasInput && issue.input !== undefined,
      ...(hasInput && issue.input !== undefined ? { value: issue.input } : {}),
      ...(secret ? { secret } : {}),
    });
  }
  return out;
}
