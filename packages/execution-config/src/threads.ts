import { ConfigError } from "@trainkit/config-meta";
import type { ExecutionConfig } from "./execution-config.ts";

/**
 * The environment variable an orchestrator (e.g. `trainkit-study`) sets to hand a job its share of
 * the machine's cores. It is not a setting: `execution.computeThreads: "auto"` reads it at run time,
 * so a job's payload (and its SHA-256) does not depend on how many jobs run beside it.
 */
export const THREAD_BUDGET_ENV = "TRAINKIT_THREAD_BUDGET";

/** How many compute threads a job uses, and why. */
export interface ComputeThreads {
  readonly threads: number;
  /** `setting`: computeThreads is a number; `budget`: auto, from TRAINKIT_THREAD_BUDGET; `cores`: auto, every core. */
  readonly source: "setting" | "budget" | "cores";
  /** One phrase for manifests and logs, e.g. `auto: TRAINKIT_THREAD_BUDGET=2`. */
  readonly reason: string;
}

/**
 * Resolves `execution.computeThreads` for this run: a number is used as it is; `auto` takes the
 * budget in `TRAINKIT_THREAD_BUDGET` when it is set, else `cores`. A budget that is not a positive
 * integer is a `ConfigError` (`INVALID_VALUE`) naming the variable.
 */
export function resolveComputeThreads(
  setting: ExecutionConfig["computeThreads"],
  env: Readonly<Record<string, string | undefined>>,
  cores: number,
): ComputeThreads {
  if (setting !== "auto") return { threads: setting, source: "setting", reason: "execution.computeThreads" };
  const raw = env[THREAD_BUDGET_ENV];
  if (raw !== undefined && raw.trim() !== "") {
    const budget = Number(raw.trim());
    if (!Number.isInteger(budget) || budget < 1) {
      throw new ConfigError([
        {
          code: "INVALID_VALUE",
          path: THREAD_BUDGET_ENV,
          message: "must be a positive integer (the threads this job may use)",
          hasValue: true,
          value: raw,
          origin: { kind: "env", variable: THREAD_BUDGET_ENV },
          hint: `Unset it, or set it to 1 or more; execution.computeThreads "auto" reads it.`,
        },
      ]);
    }
    return { threads: budget, source: "budget", reason: `auto: ${THREAD_BUDGET_ENV}=${budget}` };
  }
  const all = Math.max(1, Math.floor(cores));
  return { threads: all, source: "cores", reason: `auto: every core (${all})` };
}
