/**
 * Multi-threaded XNNPACK for the wasm backend under Node.
 *
 * `@tensorflow/tfjs-backend-wasm` 4.22 ships a threaded SIMD build but never uses it in Node, for
 * three reasons this module works around, each only while the backend starts:
 * - its feature test answers "no threads" whenever it runs in Node: we set the flag ourselves;
 * - Emscripten starts its pthread pool from a `blob:` URL, which Node's `Worker` refuses: we write
 *   the package's own worker script to a temporary file (removed at exit) and hand out its path,
 *   with two lines appended that load the backend's factory with `require` instead of a blob;
 * - the backend caps its thread pool at half the logical cores (it assumes two hyper-threads per
 *   core), so 2 cores give 1 thread: `os.cpus()` reports twice the cores for that one call.
 * XNNPACK splits work by output tiles, each computed by one thread in the same order as with one
 * thread, so results are identical for any thread count (tested: byte-identical weights).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

let workerFile: string | undefined;

function threadedWorkerFile(): string {
  if (workerFile !== undefined) return workerFile;
  const out = join(dirname(require.resolve("@tensorflow/tfjs-backend-wasm")), "..", "wasm-out");
  const { wasmWorkerContents } = require(join(out, "tfjs-backend-wasm-threaded-simd.worker.js")) as {
    wasmWorkerContents: string;
  };
  const factory = join(out, "tfjs-backend-wasm-threaded-simd.js");
  const dir = mkdtempSync(join(os.tmpdir(), "trainkit-wasm-"));
  const file = join(dir, "worker.cjs");
  // The package escapes "\n" inside string literals as a real newline; undo it as the backend does.
  writeFileSync(
    file,
    `${wasmWorkerContents.replace(/\n/g, "\\n")}
;importScripts = function () { global.WasmBackendModuleThreadedSimd = require(${JSON.stringify(factory)}); };
URL.createObjectURL = function () { return ""; }; URL.revokeObjectURL = function () {};
`,
  );
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  workerFile = file;
  return file;
}

/**
 * Runs `start` (which must call `tf.setBackend("wasm")`) with the threaded build enabled for
 * `threads` XNNPACK threads. Restores every patched global before returning.
 */
export async function withWasmThreads<T>(
  threads: number,
  setThreadsCount: (n: number) => void,
  start: () => Promise<T>,
): Promise<T> {
  const file = threadedWorkerFile();
  const createObjectURL = URL.createObjectURL;
  const cpus = os.cpus;
  setThreadsCount(threads);
  URL.createObjectURL = (blob: Blob) =>
    blob.type === "application/javascript" ? file : createObjectURL.call(URL, blob);
  os.cpus = () => {
    const real = cpus.call(os);
    return Array.from({ length: 2 * threads }, (_, i) => real[i % real.length]!);
  };
  try {
    return await start();
  } finally {
    URL.createObjectURL = createObjectURL;
    os.cpus = cpus;
  }
}

interface PThreadPool {
  readonly unusedWorkers: readonly { unref(): void }[];
  readonly runningWorkers: readonly { unref(): void }[];
}

/**
 * Lets the process exit while the pthread pool's workers wait for work (Emscripten keeps them
 * referenced, so a finished program would never end). `module` is the backend's Emscripten module.
 */
export function unrefWasmThreads(module: unknown): void {
  const pool = (module as { PThread?: PThreadPool }).PThread;
  if (pool === undefined) return;
  for (const worker of [...pool.unusedWorkers, ...pool.runningWorkers]) worker.unref();
}
