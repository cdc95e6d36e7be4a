import { createLocalExecutor } from "./local-executor.ts";
import { createSlurmExecutor } from "./slurm/executor.ts";
import type { Executor, ExecutorKind } from "./types.ts";

/** What an executor is made from: the spec's `slurm:` section, flags over it, the jobs' directory. */
export interface ExecutorSettings {
  readonly slurm?: Readonly<Record<string, unknown>>;
  readonly cwd?: string;
}

/** Every executor, by kind. */
export const EXECUTORS = {
  local: (settings: ExecutorSettings) => createLocalExecutor(settings.cwd ? { cwd: settings.cwd } : {}),
  slurm: (settings: ExecutorSettings) => createSlurmExecutor(settings.slurm ?? {}),
} satisfies Record<ExecutorKind, (settings: ExecutorSettings) => Executor>;

export const EXECUTOR_KINDS = Object.keys(EXECUTORS) as ExecutorKind[];
