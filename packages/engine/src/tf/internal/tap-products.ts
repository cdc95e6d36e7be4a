/**
 * The filter-gradient tap products and the bias sum of `TrainkitConvBackward` as our own
 * WebAssembly SIMD kernels (source: packages/engine/assembly/tap-products.ts), instantiated on the
 * wasm backend's own memory so they read and write its tensors in place.
 *
 * Why: as TensorFlow.js ops (or XNNPACK's matrix product on views) the filter gradient needs the
 * input transposed to channel-major and zero-padded, the output gradient zero-padded, and XNNPACK
 * packs the padded output gradient (8.6 MB at the default size) on one thread before the products:
 * together about a fifth of a training step. These kernels read the NHWC input and output gradient
 * in place, run the k*k taps over one pass of cached chunks of whole rows, skip exactly the terms
 * whose input pixel is padding (zero products), and sum in the order and rounding of XNNPACK's f32
 * GEMM (ascending positions, a multiply then an add), so the bytes are the same (tested against the
 * ops on every shape class). On the threaded backend the units (a tap and 4 input channels each)
 * are split between the calling thread and a worker thread running the same module on the same
 * memory; every unit is computed whole by one thread, so the bytes do not depend on the split.
 */
import { Worker } from "node:worker_threads";
import { TAP_PRODUCTS_WASM } from "./tap-products-wasm.ts";

/** Pointers are byte offsets into the backend's memory. */
export interface TapKernels {
  /**
   * The filter gradient `dw` ([k, k, ci, co], accumulated) of a stride-1 "same" k x k convolution
   * from its NHWC input `x` ([b, h, w, ci]) and output gradient `g` ([b, h, w, co]), for units
   * [u0, u1) (a tap and 4 input channels each; `k * k * ceil(ci / 4)` in all).
   */
  tapProducts(
    x: number,
    g: number,
    dw: number,
    ci: number,
    co: number,
    k: number,
    b: number,
    h: number,
    w: number,
    u0: number,
    u1: number,
    chunk: number,
  ): void;
  /** `db[o] += sum_p g[p*co + o]`. */
  columnSums(g: number, db: number, co: number, len: number): void;
}

/** The emscripten module of the wasm backend: threaded builds expose `wasmMemory`, others `asm.memory`. */
interface BackendModule {
  readonly wasmMemory?: unknown;
  readonly asm?: { readonly memory?: unknown };
  readonly _get_threads_count?: () => number;
}

/** The part of the WebAssembly JS API used here (the compiler's libs do not declare it). */
interface WasmApi {
  readonly Memory: abstract new (...args: never[]) => { readonly buffer: ArrayBufferLike };
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object, imports: object) => { readonly exports: unknown };
}
const WASM = (globalThis as unknown as { readonly WebAssembly: WasmApi }).WebAssembly;

const cache = new WeakMap<object, TapKernels | null>();
let enabled = true;

/**
 * Whether {@link tapKernels} offers the kernels (the default) or answers null as where they cannot
 * be instantiated, so that tests reach the XNNPACK fallback on this machine.
 */
export function setTapKernelsEnabled(on: boolean): void {
  enabled = on;
}

/** The kernels on this backend module's memory, or null where they cannot be instantiated. */
export function tapKernels(wasm: BackendModule): TapKernels | null {
  if (!enabled) return null;
  let kernels = cache.get(wasm);
  if (kernels === undefined) {
    kernels = instantiate(wasm);
    cache.set(wasm, kernels);
  }
  return kernels;
}

function instantiate(wasm: BackendModule): TapKernels | null {
  const memory = wasm.wasmMemory ?? wasm.asm?.memory;
  if (!(memory instanceof WASM.Memory)) return null;
  const shared = typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer;
  try {
    const bytes = Buffer.from(shared ? TAP_PRODUCTS_WASM.shared : TAP_PRODUCTS_WASM.plain, "base64");
    const instance = new WASM.Instance(new WASM.Module(bytes), {
      env: {
        memory,
        abort: () => {
          throw new Error("tap-products: abort");
        },
      },
    });
    const kernels = instance.exports as unknown as TapKernels;
    const threads = shared ? (wasm._get_threads_count?.() ?? 1) : 1;
    return threads > 1 ? withHelper(kernels, bytes, memory) : kernels;
  } catch {
    // A memory whose limits the module cannot import: XNNPACK's products serve instead.
    return null;
  }
}

/**
 * Positions per chunk, rounded down to whole rows (at least one): a chunk of the input and output
 * gradient stays in cache for all taps. Measured paired at the default size: 128 (two rows of the
 * first block) 3% faster a step than 64, 256 6% slower.
 */
export const TAP_CHUNK = 128;

// The helper thread's control block (Int32): what it has been asked for and has done, whether it
// is waiting, and the arguments of its share of the units.
const ASKED = 0;
const DONE = 1;
const READY = 2;
const ARGS = 3;
const TAP_ARGS = 12;
/** The longest a product may take before the helper is taken to be lost. */
const HELPER_TIMEOUT_MS = 120_000;

const HELPER = `
const { workerData } = require("node:worker_threads");
const { bytes, memory, control } = workerData;
const c = new Int32Array(control);
const env = { memory, abort() { throw new Error("tap-products: abort"); } };
const k = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env }).exports;
let seen = 0;
Atomics.store(c, ${READY}, 1);
for (;;) {
  Atomics.wait(c, ${ASKED}, seen);
  seen = Atomics.load(c, ${ASKED});
  const a = ${ARGS};
  k.tapProducts(...c.subarray(a, a + ${TAP_ARGS}));
  Atomics.store(c, ${DONE}, seen);
  Atomics.notify(c, ${DONE});
}
`;

/**
 * The kernels with `tapProducts` split in two halves of the units: the second on a worker thread
 * (started now, used once it waits; until then the calling thread does everything).
 */
function withHelper(kernels: TapKernels, bytes: Uint8Array, memory: unknown): TapKernels {
  const control = new SharedArrayBuffer(4 * (ARGS + TAP_ARGS));
  const c = new Int32Array(control);
  const worker = new Worker(HELPER, { eval: true, workerData: { bytes, memory, control } });
  worker.unref();
  let lost = false;
  worker.on("error", () => {
    lost = true;
  });
  return {
    columnSums: kernels.columnSums,
    tapProducts(x, g, dw, ci, co, k, b, h, w, u0, u1, chunk) {
      const units = u1 - u0;
      if (lost || units < 2 || Atomics.load(c, READY) !== 1) {
        kernels.tapProducts(x, g, dw, ci, co, k, b, h, w, u0, u1, chunk);
        return;
      }
      const half = u0 + Math.floor(units / 2);
      c.set([x, g, dw, ci, co, k, b, h, w, half, u1, chunk], ARGS);
      const asked = Atomics.load(c, ASKED) + 1;
      Atomics.store(c, ASKED, asked);
      Atomics.notify(c, ASKED);
      kernels.tapProducts(x, g, dw, ci, co, k, b, h, w, u0, half, chunk);
      const started = performance.now();
      for (;;) {
        const done = Atomics.load(c, DONE);
        if (done === asked) return;
        if (performance.now() - started > HELPER_TIMEOUT_MS) {
          lost = true;
          throw new Error("tap-products: the helper thread did not finish its share.");
        }
        Atomics.wait(c, DONE, done, 1000);
      }
    },
  };
}
