import { availableParallelism } from "node:os";
import { installConvBackwardKernel } from "./internal/conv-backward-kernel.ts";
import { installFastWasmSlice, installSharingWasmIdentity } from "./internal/wasm-kernels.ts";
import { unrefWasmThreads, withWasmThreads } from "./internal/wasm-threads.ts";
import { tf, wasmBackend } from "./tfjs.ts";

/** The TensorFlow.js backends this engine runs on. */
export type TfBackendName = "wasm" | "cpu";

export interface BackendInfo {
  /** The backend now active. */
  readonly backend: TfBackendName;
  /** XNNPACK threads of the wasm backend (1 on cpu). */
  readonly threads: number;
  /** Set when `wasm` was asked for but could not start and `cpu` runs instead: why. */
  readonly fallbackReason?: string;
}

let current: BackendInfo | undefined;

/**
 * Selects and initialises the TensorFlow.js backend, silently (no banner).
 *
 * `wasm` (the default) is XNNPACK with SIMD, on one thread per available core (`threads`, default
 * `os.availableParallelism()`; results do not depend on it), ~40x faster than `cpu` for convolutions.
 * If the threaded build fails to start, the single-threaded one runs; if wasm fails altogether the
 * engine falls back to `cpu` and says why in `fallbackReason`. Idempotent: calling again with the
 * backend already active does nothing (the thread count is fixed once wasm has started).
 */
export async function initBackend(
  preferred: TfBackendName = "wasm",
  options: { readonly threads?: number } = {},
): Promise<BackendInfo> {
  if (current !== undefined && current.backend === preferred && tf.getBackend() === preferred) {
    return current;
  }
  if (preferred === "wasm") {
    let reason: string;
    try {
      if (await startWasm(options.threads ?? availableParallelism())) {
        installFastWasmSlice();
        installSharingWasmIdentity();
        installConvBackwardKernel();
        current = { backend: "wasm", threads: wasmBackend.getThreadsCount() };
        return current;
      }
      reason = "tf.setBackend('wasm') returned false";
    } catch (error) {
      reason = error instanceof Error ? error.message : String(error);
    }
    await tf.setBackend("cpu");
    await tf.ready();
    current = {
      backend: "cpu",
      threads: 1,
      fallbackReason: `the wasm backend failed to start (${reason}); using cpu`,
    };
    return current;
  }
  await tf.setBackend("cpu");
  await tf.ready();
  current = { backend: "cpu", threads: 1 };
  return current;
}

let wasmStarted: Promise<boolean> | undefined;

/**
 * Makes wasm the active backend. It starts once per process: threaded when `threads > 1` and that
 * works, else single-threaded; later calls switch back to it (after a detour to cpu, say).
 */
async function startWasm(threads: number): Promise<boolean> {
  if (wasmStarted !== undefined) return (await wasmStarted) && tf.setBackend("wasm");
  wasmStarted = (async () => {
    const start = async () => {
      const ok = await tf.setBackend("wasm");
      if (ok) await tf.ready();
      return ok;
    };
    if (threads > 1) {
      tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
      try {
        if (await withWasmThreads(threads, wasmBackend.setThreadsCount, start)) {
          unrefWasmThreads((tf.backend() as unknown as { wasm: unknown }).wasm);
          return true;
        }
      } catch {
        // fall through: a failed start leaves the registration in place for another try
      }
    }
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    return start();
  })();
  return wasmStarted;
}

/** The backend now active, or `undefined` before {@link initBackend} ran. */
export function activeBackend(): TfBackendName | undefined {
  const name: string | null = tf.engine().backendName;
  return name === "wasm" || name === "cpu" ? name : undefined;
}
