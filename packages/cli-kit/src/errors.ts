/** A command line that cannot be understood (exit code 2). */
export class UsageError extends Error {
  override readonly name = "UsageError";
  readonly code = "USAGE" as const;
}

export function isUsageError(value: unknown): value is UsageError {
  return value instanceof Error && value.name === "UsageError";
}
