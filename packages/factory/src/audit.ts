import { redactValue } from "@trainkit/config-meta";
import type { Level, Origin } from "./levels.ts";

/** A value that lost to a higher-precedence one. */
export interface ShadowedValue {
  readonly level: Level;
  readonly origin: Origin;
  readonly value: unknown;
}

/** Where one leaf of the payload came from and what it beat. */
export interface AuditEntry {
  /** `section.key`, e.g. `training.batchSize`. */
  readonly path: string;
  readonly value: unknown;
  readonly level: Level;
  readonly origin: Origin;
  /** Every value this one beat, highest precedence first (the default last). */
  readonly shadowed: readonly ShadowedValue[];
}

/**
 * Replaces a secret value by `***` (null and absent stay as they are: nothing to hide), and the
 * password of a `scheme://user:password@host` URI in any other string.
 */
export function mask(value: unknown, secret: boolean): unknown {
  return redactValue(value, secret);
}
