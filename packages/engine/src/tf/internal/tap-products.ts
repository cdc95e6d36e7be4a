/**
 * The filter-gradient tap products and the bias sum of `TrainkitConvBackward` as our own
 * WebAssembly SIMD kernels (source: packages/engine/assembly/tap-products.ts), instantiated on the
 * wasm backend's own memory so they read and write its tensors in place.
 *
 * Why: XNNPACK's matrix product packs its right operand (the padded output gradient, 8.6 MB at the
 * default size) on one thread before every product, about 15% of a training step. These kernels
 * read the operand where it is, run the k*k taps over one pass of cached chunks, and sum in the
 * order and rounding of XNNPACK's f32 GEMM (ascending positions, a multiply then an add), so the
 * bytes are the same (tested against XNNPACK on every shape class). They run on the calling thread.
 */
import { TAP_PRODUCTS_WASM } from "./tap-products-wasm.ts";

/** Pointers are byte offsets into the backend's memory. */
export interface TapKernels {
  /** `dw[t][c][o] += sum_p x[c*len + offs[t] + p] * g[p*co + o]` for units [u0, u1) (t, 4 channels). */
  tapProducts(
    x: number,
    g: number,
    dw: number,
    offs: number,
    ci: number,
    co: number,
    len: number,
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
}

/** The part of the WebAssembly JS API used here (the compiler's libs do not declare it). */
interface WasmApi {
  readonly Memory: abstract new (...args: never[]) => { readonly buffer: ArrayBufferLike };
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object, imports: object) => { readonly exports: unknown };
}
const WASM = (globalThis as unknown as { readonly WebAssembly: WasmApi }).WebAssembly;

const cache = new WeakMap<object, TapKernels | null>();

/** The kernels on this backend module's memory, or null where they cannot be instantiated. */
export function tapKernels(wasm: BackendModule): TapKernels | null {
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
    return instance.exports as unknown as TapKernels;
  } catch {
    // A memory whose limits the module cannot import: XNNPACK's products serve instead.
    return null;
  }
}

/** Positions per chunk: a chunk of the padded input and output gradient stays in cache for all taps. */
export const TAP_CHUNK = 256;
