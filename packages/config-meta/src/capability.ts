/** One thing a backend can or cannot do with one setting. */
export interface Capability {
  /** Payload path, e.g. `model.architecture`. */
  readonly path: string;
  /** Whether the backend honours this value (the whole config is given for context). */
  readonly supports: (
    value: unknown,
    config: Readonly<Record<string, Readonly<Record<string, unknown>>>>,
  ) => boolean;
  /** What is supported, for the message: `"cnn"`, `1 or 2`, `null`. */
  readonly supported: string;
  /** How to get what the user asked for anyway. */
  readonly hint?: string;
}

/** A capability that accepts only the listed values. */
export function only(path: string, values: readonly unknown[], hint?: string): Capability {
  return {
    path,
    supports: (value) => values.some((v) => v === value),
    supported: values.map((v) => JSON.stringify(v)).join(" or "),
    ...(hint ? { hint } : {}),
  };
}
