// Execution settings as the schema owns them: a building block given some of them (the engine's loop
// passes the resolved config; a test a few values) gets the schema's defaults for the rest, and a
// value out of the schema's range is refused with the schema's message.
import { type ExecutionConfig, parseExecutionConfig } from "@trainkit/execution-config";

/**
 * `keys` of `values`, checked by the execution schema and its defaults filling what is absent.
 * Throws `ConfigError` (`execution.<key>: ...`) for a value the schema refuses.
 */
export function executionSettings<K extends keyof ExecutionConfig>(
  keys: readonly K[],
  values: Partial<Pick<ExecutionConfig, K>>,
): Pick<ExecutionConfig, K> {
  const given: Partial<Record<K, unknown>> = {};
  for (const key of keys) if (values[key] !== undefined) given[key] = values[key];
  const parsed = parseExecutionConfig(given);
  const out = {} as Pick<ExecutionConfig, K>;
  for (const key of keys) out[key] = parsed[key];
  return out;
}
