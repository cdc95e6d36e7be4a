// The error plumbing every trainkit package shares, free of zod so that packages without schemas
// (data, its datagen command) can use it without loading one (`@trainkit/config-meta/coded-error`).

/**
 * A guard for a coded error class (`name` plus a `code` string), optionally of one code. It checks
 * the name rather than the class, so it works across package copies.
 */
export function codedErrorGuard<E extends Error & { readonly code: string }>(
  name: E["name"],
): (value: unknown, code?: E["code"]) => value is E {
  return (value: unknown, code?: E["code"]): value is E =>
    value instanceof Error &&
    value.name === name &&
    typeof (value as Partial<E>).code === "string" &&
    (code === undefined || (value as E).code === code);
}

/** A command line that cannot be understood (exit code 2). */
export class UsageError extends Error {
  override readonly name = "UsageError";
  readonly code = "USAGE" as const;
}

/** Type guard for `UsageError`. */
export const isUsageError: (value: unknown) => value is UsageError =
  codedErrorGuard<UsageError>("UsageError");

/** How many problems one message lists; the rest are counted (an error's `issues` keep them all). */
export const PROBLEMS_SHOWN = 50;

/**
 * One message of several problems: the only one alone, else a count and a bulleted list of the
 * first `PROBLEMS_SHOWN`, with how many more there are (a file of 64,000 bad keys is one screen).
 */
export function listProblems(head: string | undefined, problems: readonly string[]): string {
  const prefix = head === undefined ? "" : `${head}: `;
  if (problems.length === 1) return `${prefix}${problems[0]}`;
  const shown = problems.slice(0, PROBLEMS_SHOWN).map((p) => `  - ${p}`);
  const more = problems.length - shown.length;
  const tail = more > 0 ? `\n  ... and ${more} more (${problems.length} in all).` : "";
  return `${prefix}${problems.length} problems:\n${shown.join("\n")}${tail}`;
}
