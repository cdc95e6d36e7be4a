/**
 * Kernel replacements for the TensorFlow.js 4.22 wasm backend (installed by `initBackend`).
 *
 * - `Slice`: the stock kernel starts with `backend.readSync(x)`, which copies the *whole input* out of
 *   the wasm heap into a fresh JavaScript buffer before copying the slice: slicing 9 windows out of an
 *   8 MB tensor costs ~5 ms each instead of ~0.5 ms. This one reads the input through a view of the
 *   heap (`typedArrayFromHeap`, as the stock `Concat` kernel does) and otherwise does exactly what the
 *   stock kernel does; strings and ranks above 4 go to the stock kernel.
 * - `Identity` (what `clone` runs; the engine clones every tensor it saves for a gradient): the stock
 *   kernel copies the data; this one shares it by reference count, as the stock `Reshape` kernel of
 *   the same backend and the cpu backend's `Identity` do (tensors are immutable).
 *
 * The fused convolution backward kernel, which also uses this view of the backend, is in
 * `conv-backward-kernel.ts`.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import { tf } from "../tfjs.ts";

type HeapArray = Float32Array | Int32Array | Uint8Array;

/** The parts of the TensorFlow.js wasm backend the kernels here use (not in its public types). */
export interface WasmBackendView {
  typedArrayFromHeap(t: TensorInfo): HeapArray;
  makeOutput(shape: number[], dtype: string): TensorInfo;
  incRef(dataId: object): void;
  disposeData(dataId: object): boolean;
  dataIdNextNumber: number;
  readonly dataIdMap: { get(dataId: object): { readonly id: number; readonly memoryOffset: number } };
  readonly wasm: {
    cwrap(name: string, returns: null, args: readonly string[]): (...args: unknown[]) => void;
    /** The module's memory: `wasmMemory` in the threaded build, `asm.memory` in the others. */
    readonly wasmMemory?: unknown;
    readonly asm?: { readonly memory?: unknown };
    readonly tfjs: {
      registerTensor(id: number, size: number, memoryOffset: number): void;
      disposeData(id: number): void;
    };
  };
}

interface SliceArgs {
  readonly inputs: { readonly x: TensorInfo };
  readonly attrs: { readonly begin: number | number[]; readonly size: number | number[] };
  readonly backend: unknown;
}

let installed = false;
let identityInstalled = false;

/** Replaces the wasm `Identity` kernel with a data-sharing one (idempotent). */
export function installSharingWasmIdentity(): void {
  if (identityInstalled) return;
  const stock = tf.getKernel("Identity", "wasm");
  if (stock === undefined) return;
  const stockFunc = stock.kernelFunc;
  const kernelFunc = ((args: { readonly inputs: { readonly x: TensorInfo }; readonly backend: unknown }) => {
    const x = args.inputs.x;
    if (x.dtype === "string") return stockFunc(args as never);
    (args.backend as WasmBackendView).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  }) as unknown as KernelFunc;
  tf.unregisterKernel("Identity", "wasm");
  tf.registerKernel({ ...stock, kernelFunc } satisfies KernelConfig);
  identityInstalled = true;
}

/** Replaces the wasm `Slice` kernel (idempotent). Call after the wasm backend is registered. */
export function installFastWasmSlice(): void {
  if (installed) return;
  const stock = tf.getKernel("Slice", "wasm");
  if (stock === undefined) return;
  const stockFunc = stock.kernelFunc;
  const kernelFunc = ((args: SliceArgs) => {
    const x = args.inputs.x;
    if (x.dtype === "string" || x.shape.length > 4) return stockFunc(args as never);
    const backend = args.backend as WasmBackendView;
    const [begin, size] = tf.slice_util.parseSliceParams(x as never, args.attrs.begin, args.attrs.size) as [
      number[],
      number[],
    ];
    const out = backend.makeOutput(size, x.dtype);
    const n = size.reduce((a, b) => a * b, 1);
    if (n === 0) return out;
    const src = backend.typedArrayFromHeap(x);
    const dst = backend.typedArrayFromHeap(out);
    const strides = tf.util.computeStrides(x.shape);
    if (tf.slice_util.isSliceContinous(x.shape, begin, size)) {
      const offset = tf.slice_util.computeFlatOffset(begin, strides);
      dst.set(src.subarray(offset, offset + n));
      return out;
    }
    copyBlocks(src, dst, x.shape.length, strides, begin, size, x.shape);
    return out;
  }) as unknown as KernelFunc;
  tf.unregisterKernel("Slice", "wasm");
  tf.registerKernel({ ...stock, kernelFunc } satisfies KernelConfig);
  installed = true;
}

/**
 * Copies a rank <= 4 slice as runs: trailing axes the slice covers in full merge with the axis
 * before them into one contiguous run (a `[16, 64, 64, 1]` corner of `[16, 65, 65, 1]` is 1024 runs
 * of 64 values, not 65536 single values); short runs are copied element by element.
 */
function copyBlocks(
  src: HeapArray,
  dst: HeapArray,
  rank: number,
  strides: number[],
  begin: number[],
  size: number[],
  shape: readonly number[],
): void {
  let inner = rank - 1;
  let run = size[inner] as number;
  while (inner > 0 && size[inner] === shape[inner]) {
    inner--;
    run *= size[inner] as number;
  }
  // Outer axes [0, inner) iterate; axis `inner` starts each run at begin[inner].
  const lead = 3 - inner;
  const b = [...new Array<number>(lead).fill(0), ...begin.slice(0, inner)];
  const s = [...new Array<number>(lead).fill(1), ...size.slice(0, inner)];
  const st = [...new Array<number>(lead).fill(0), ...strides.slice(0, inner)];
  const [b0, b1, b2] = b as [number, number, number];
  const [s0, s1, s2] = s as [number, number, number];
  const [t0, t1, t2] = st as [number, number, number];
  const start = (begin[inner] as number) * (inner === rank - 1 ? 1 : (strides[inner] as number));
  let o = 0;
  for (let i = b0; i < b0 + s0; i++) {
    for (let j = b1; j < b1 + s1; j++) {
      for (let k = b2; k < b2 + s2; k++) {
        const from = i * t0 + j * t1 + k * t2 + start;
        if (run < 16) {
          for (let e = 0; e < run; e++) dst[o + e] = src[from + e] as number;
        } else {
          dst.set(src.subarray(from, from + run), o);
        }
        o += run;
      }
    }
  }
}
