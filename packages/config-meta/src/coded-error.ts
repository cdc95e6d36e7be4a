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
