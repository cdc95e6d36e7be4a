import { installFastWasmSlice, installSharingWasmIdentity } from "./internal/wasm-kernels.ts";
import { tf } from "./tfjs.ts";

/** The TensorFlow.js backends this engine runs on. */
export type TfBackendName = "wasm" | "cpu";

export interface BackendInfo {
  /** The backend now active. */
  readonly backend: TfBackendName;
  /** Set when `wasm` was asked for but could not start and `cpu` runs instead: why. */
  readonly fallbackReason?: string;
}

let current: BackendInfo | undefined;

/**
 * Selects and initialises the TensorFlow.js backend, silently (no banner).
 *
 * `wasm` (the default) is single-threaded XNNPACK with SIMD: deterministic, and ~40x faster than
 * `cpu` for convolutions. If it fails to start the engine falls back to `cpu` and says so in
 * `fallbackReason`. Idempotent: calling again with the backend already active does nothing.
 */
export async function initBackend(preferred: TfBackendName = "wasm"): Promise<BackendInfo> {
  if (current !== undefined && current.backend === preferred && tf.getBackend() === preferred) {
    return current;
  }
  if (preferred === "wasm") {
    // Threads would make reductions order-dependent; Node has no threaded build here anyway.
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    let reason: string;
    try {
      if (await tf.setBackend("wasm")) {
        await tf.ready();
        installFastWasmSlice();
        installSharingWasmIdentity();
        current = { backend: "wasm" };
        return current;
      }
      reason = "tf.setBackend('wasm') returned false";
    } catch (error) {
      reason = error instanceof Error ? error.message : String(error);
    }
    await tf.setBackend("cpu");
    await tf.ready();
    current = { backend: "cpu", fallbackReason: `the wasm backend failed to start (${reason}); using cpu` };
    return current;
  }
  await tf.setBackend("cpu");
  await tf.ready();
  current = { backend: "cpu" };
  return current;
}

/** The backend now active, or `undefined` before {@link initBackend} ran. */
export function activeBackend(): TfBackendName | undefined {
  const name: string | null = tf.engine().backendName;
  return name === "wasm" || name === "cpu" ? name : undefined;
}
