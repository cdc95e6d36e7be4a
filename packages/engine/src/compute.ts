// The compute backend of a run, with the thread count `execution.computeThreads` asks for.
import { availableParallelism } from "node:os";
import { type ComputeThreads, type ExecutionConfig, resolveComputeThreads } from "@trainkit/execution-config";
import { type BackendInfo, initBackend } from "./tf/backend.ts";

export interface ComputeStart {
  readonly backend: BackendInfo;
  readonly requested: ComputeThreads;
  /** Facts for the manifest: the threads used, those asked for, and why. */
  readonly details: {
    readonly computeBackend: BackendInfo["backend"];
    readonly computeThreads: number;
    readonly computeThreadsRequested: number;
    readonly computeThreadsSource: string;
  };
}

/**
 * Starts the wasm backend on the threads `execution.computeThreads` resolves to (`auto`: the
 * orchestrator's TRAINKIT_THREAD_BUDGET in `env`, else every core). The thread count is fixed once
 * per process: a later run asking for another count gets a warning and the threads already running.
 * Throws `ConfigError` for a malformed budget.
 */
export async function startCompute(
  execution: Pick<ExecutionConfig, "computeThreads">,
  env: Readonly<Record<string, string | undefined>>,
  warn: (message: string) => void,
): Promise<ComputeStart> {
  const requested = resolveComputeThreads(execution.computeThreads, env, availableParallelism());
  const backend = await initBackend("wasm", { threads: requested.threads });
  const capped = requested.source === "cores" && backend.threads < requested.threads;
  if (backend.backend === "wasm" && backend.threads !== requested.threads && !capped) {
    warn(
      `${requested.threads} compute threads were asked for (${requested.reason}) but the engine runs on ${backend.threads}${requested.threads > backend.threads ? " (the WebAssembly build's limit, or the count this process started with)" : " (the count this process started with)"}.`,
    );
  }
  return {
    backend,
    requested,
    details: {
      computeBackend: backend.backend,
      computeThreads: backend.threads,
      computeThreadsRequested: requested.threads,
      computeThreadsSource: requested.reason,
    },
  };
}
