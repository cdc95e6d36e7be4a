/** Exponential backoff with jitter: 2 s, 4 s, ... up to 60 s, each within +-20 %. */
export interface Backoff {
  /** The next delay in milliseconds (and doubles the one after it). */
  next(): number;
  /** Back to the first delay (after a submission, or when something changed). */
  reset(): void;
}

export interface BackoffOptions {
  readonly initialMs?: number;
  readonly maxMs?: number;
  readonly factor?: number;
  /** Fraction of the delay added or removed at random. */
  readonly jitter?: number;
  readonly random?: () => number;
}

export function createBackoff(options: BackoffOptions = {}): Backoff {
  const initial = options.initialMs ?? 2000;
  const max = options.maxMs ?? 60_000;
  const factor = options.factor ?? 2;
  const jitter = options.jitter ?? 0.2;
  const random = options.random ?? Math.random;
  let base = initial;
  return {
    next() {
      const delay = base * (1 + jitter * (2 * random() - 1));
      base = Math.min(max, base * factor);
      return Math.round(Math.min(max, Math.max(0, delay)));
    },
    reset() {
      base = initial;
    },
  };
}
