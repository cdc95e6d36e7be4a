/**
 * `TrainkitConvBackward` (wasm): the whole backward pass of one stride-1 "same" k x k convolution
 * (k > 1; one or two output channels only where our SIMD tap kernels run) in a single kernel call.
 *
 * Why: a convolution's gradient is about 25 small steps (ReLU mask, filter flip, input-gradient
 * convolution, transposed and padded input, padded output gradient, the k*k tap products, bias sum).
 * Run as TensorFlow.js ops each step pays the engine's bookkeeping (15-40 us an op here, tape,
 * memory tracking, scopes), which at the demo's width was a fifth of a training step. This kernel
 * calls wasm kernels directly on the same inputs and moves small data (the filter flip, zeros) in
 * JavaScript: the results are byte-identical to the op-by-op path in `ops.ts`, which stays for other
 * backends and shapes.
 *
 * The input gradient is XNNPACK's `Conv2D` of the masked output gradient with the flipped filter.
 * The filter gradient and bias sum run in our SIMD kernels (`tap-products.ts`) on the NHWC input and
 * the masked output gradient where they are: no transpose, no padding, no packing, the same bytes.
 * Where those cannot be instantiated (a runtime without SIMD), the ops' route runs on the wasm side:
 * the input transposed to channel-major and zero-padded (`Transpose`, `PadV2`), the output gradient
 * padded, and tap t as XNNPACK's matrix product of a *view* into the padded input (a tensor id
 * registered at an offset of its memory, never seen by TensorFlow.js) with the padded output
 * gradient, written into a view of `dw`.
 */
import type { KernelFunc, Tensor, TensorInfo } from "@tensorflow/tfjs";
import { tf } from "../tfjs.ts";
import { profileSubKernel } from "./profile.ts";
import { TAP_CHUNK, tapKernels } from "./tap-products.ts";
import type { WasmBackendView } from "./wasm-kernels.ts";

/** Name of the fused convolution-backward kernel (wasm only). */
export const CONV_BACKWARD_KERNEL = "TrainkitConvBackward";

export interface ConvBackwardAttrs {
  readonly relu: boolean;
  readonly inputGrad: boolean;
  readonly filterGrad: boolean;
  readonly withBias: boolean;
}

/** Inputs: the forward input `x`, filter `w`, output `y` (for the ReLU mask) and output gradient `dy`. */
interface ConvBackwardInputs {
  readonly x: TensorInfo;
  readonly w: TensorInfo;
  readonly y: TensorInfo;
  readonly dy: TensorInfo;
}

/** Whether {@link convBackward} can run a convolution with this filter shape. */
export function convBackwardApplies(filterShape: readonly number[]): boolean {
  if ((filterShape[0] as number) <= 1) return false;
  if (tf.getBackend() !== "wasm" || tf.getKernel(CONV_BACKWARD_KERNEL, "wasm") === undefined) return false;
  // One or two outputs: XNNPACK's tap products are slow at that width (the ops stack the shifted
  // output gradients into one product instead); our tap kernels are not.
  if ((filterShape[3] as number) > 2) return true;
  return tapKernels((tf.backend() as unknown as WasmBackendView).wasm) !== null;
}

/** Runs {@link CONV_BACKWARD_KERNEL}: `[dx, dw]`, plus `db` when `withBias`. */
export function convBackward(
  inputs: Record<keyof ConvBackwardInputs, Tensor>,
  attrs: ConvBackwardAttrs,
): Tensor[] {
  return tf.engine().runKernel(CONV_BACKWARD_KERNEL, { ...inputs }, { ...attrs }) as unknown as Tensor[];
}

/** `BatchMatMul(a_id, a_shape, a_rank, b_id, b_shape, b_rank, transpose_a, transpose_b, out_id)`. */
const MATMUL_ARGS = [
  "number",
  "array",
  "number",
  "number",
  "array",
  "number",
  "number",
  "number",
  "number",
] as const;

let installed = false;

/** Registers {@link CONV_BACKWARD_KERNEL} on the wasm backend (idempotent). */
export function installConvBackwardKernel(): void {
  if (installed || tf.getKernel(CONV_BACKWARD_KERNEL, "wasm") !== undefined) return;
  const stock = (name: string): KernelFunc => {
    const config = tf.getKernel(name, "wasm");
    if (config === undefined)
      throw new Error(`${CONV_BACKWARD_KERNEL}: the wasm backend has no ${name} kernel.`);
    return config.kernelFunc;
  };
  const kernels = {
    Step: stock("Step"),
    Multiply: stock("Multiply"),
    Conv2D: stock("Conv2D"),
    Transpose: stock("Transpose"),
    PadV2: stock("PadV2"),
  };
  let matmul: ((...args: unknown[]) => void) | undefined;

  const kernelFunc = ((args: {
    readonly inputs: ConvBackwardInputs;
    readonly attrs: ConvBackwardAttrs;
    readonly backend: unknown;
  }) => {
    const backend = args.backend as WasmBackendView;
    const { x, w, y, dy } = args.inputs;
    const { relu, inputGrad, filterGrad, withBias } = args.attrs;
    const [k, , ci, co] = w.shape as [number, number, number, number];
    const [b, h, wd] = x.shape as [number, number, number, number];
    if (k < 3 || [x, w, y, dy].some((t) => t.dtype !== "float32")) {
      throw new Error(`${CONV_BACKWARD_KERNEL}: needs float32 tensors and a filter of 3x3 or more.`);
    }
    const temporaries: TensorInfo[] = [];
    const outputs: TensorInfo[] = [];
    const temp = (t: TensorInfo): TensorInfo => {
      temporaries.push(t);
      return t;
    };
    const output = (t: TensorInfo): TensorInfo => {
      outputs.push(t);
      return t;
    };
    const call = (name: keyof typeof kernels, inputs: Record<string, TensorInfo>, attrs: object) =>
      profileSubKernel(name, () => kernels[name]({ inputs, attrs, backend } as never) as TensorInfo);
    const zeros = (shape: readonly number[]): TensorInfo => {
      const out = output(backend.makeOutput([...shape], "float32"));
      backend.typedArrayFromHeap(out).fill(0);
      return out;
    };
    try {
      // g = dy * step(y) for a ReLU, as tf.mul(dy, tf.step(y)).
      const g = relu
        ? temp(call("Multiply", { a: dy, b: temp(call("Step", { x: y }, { alpha: 0 })) }, {}))
        : dy;
      // dx: a forward convolution of g with the flipped filter, as tf.conv2d(g, flipped, 1, "same").
      const dx = inputGrad
        ? output(
            call(
              "Conv2D",
              { x: g, filter: temp(flippedFilter(backend, w)) },
              { strides: 1, pad: "same", dataFormat: "NHWC", dilations: [1, 1], dimRoundingMode: undefined },
            ),
          )
        : zeros(x.shape);
      if (!filterGrad) return withBias ? [dx, zeros(w.shape), zeros([co])] : [dx, zeros(w.shape)];
      const simd = tapKernels(backend.wasm);
      if (simd !== null) {
        // Our kernels, on x and g where they are (see tap-products.ts): the same bytes.
        const dw = output(backend.makeOutput([k, k, ci, co], "float32"));
        backend.typedArrayFromHeap(dw).fill(0);
        const units = k * k * Math.ceil(ci / 4);
        const [xp, gp, dwp] = [x, g, dw].map((t) => ptr(backend, t)) as [number, number, number];
        profileSubKernel("TapProducts", () =>
          simd.tapProducts(xp, gp, dwp, ci, co, k, b, h, wd, 0, units, TAP_CHUNK),
        );
        if (!withBias) return [dx, dw];
        const db = output(backend.makeOutput([co], "float32"));
        backend.typedArrayFromHeap(db).fill(0);
        profileSubKernel("TapProducts", () => simd.columnSums(gp, ptr(backend, db), co, b * h * wd));
        return [dx, dw, db];
      }
      // XNNPACK: channel-major, zero-padded input with a zero tail (one more channel): tap (i, j)
      // is the window starting at i*wp + j. The output gradient sits at the top-left of each padded
      // image.
      const r = (k - 1) / 2;
      const wp = wd + r;
      const len = b * (h + r) * wp;
      const xT = temp(call("Transpose", { x: { ...x, shape: [b * h * wd, ci] } }, { perm: [1, 0] }));
      const xPad = temp(
        call(
          "PadV2",
          { x: { ...xT, shape: [ci, b, h, wd] } },
          {
            paddings: [
              [0, 1],
              [0, 0],
              [r, 0],
              [r, 0],
            ],
            constantValue: 0,
          },
        ),
      );
      const gPad = temp(
        call(
          "PadV2",
          { x: g },
          {
            paddings: [
              [0, 0],
              [0, r],
              [0, r],
              [0, 0],
            ],
            constantValue: 0,
          },
        ),
      );
      const offsets: number[] = [];
      for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) offsets.push(i * wp + j);
      const dw = output(backend.makeOutput([k, k, ci, co], "float32"));
      matmul ??= backend.wasm.cwrap("BatchMatMul", null, MATMUL_ARGS);
      const product = matmul;
      profileSubKernel("BatchMatMul", () =>
        tapProducts(backend, product, xPad, gPad, dw, offsets, ci, len, co),
      );
      if (!withBias) return [dx, dw];
      // db = ones[1, len] x gPad, as tf.matMul(tf.ones([1, len]), gPad): gPad's packing is reused.
      const ones = temp(backend.makeOutput([1, len], "float32"));
      backend.typedArrayFromHeap(ones).fill(1);
      const db = output(backend.makeOutput([co], "float32"));
      const [onesId, gId, dbId] = [ones, gPad, db].map((t) => id(backend, t));
      profileSubKernel("BatchMatMul", () =>
        product(onesId, shapeBytes([1, 1, len]), 3, gId, shapeBytes([1, len, co]), 3, 0, 0, dbId),
      );
      return [dx, dw, db];
    } catch (error) {
      for (const t of outputs) backend.disposeData(t.dataId);
      throw error;
    } finally {
      for (const t of temporaries) backend.disposeData(t.dataId);
    }
  }) as unknown as KernelFunc;
  tf.registerKernel({ kernelName: CONV_BACKWARD_KERNEL, backendName: "wasm", kernelFunc });
  installed = true;
}

function id(backend: WasmBackendView, t: TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).id;
}

/** The byte offset of a tensor's data in the backend's memory. */
function ptr(backend: WasmBackendView, t: TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

function shapeBytes(shape: readonly number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

/**
 * The filter of the input-gradient convolution: spatially flipped, input and output channels
 * swapped (`out[i][j][o][c] = w[k-1-i][k-1-j][c][o]`), copied in JavaScript (filters are small).
 */
function flippedFilter(backend: WasmBackendView, w: TensorInfo): TensorInfo {
  const [k, , ci, co] = w.shape as [number, number, number, number];
  const out = backend.makeOutput([k, k, co, ci], "float32");
  const src = backend.typedArrayFromHeap(w);
  const dst = backend.typedArrayFromHeap(out);
  const tap = ci * co;
  for (let t = 0; t < k * k; t++) {
    const from = (k * k - 1 - t) * tap;
    const to = t * tap;
    for (let c = 0; c < ci; c++) {
      for (let o = 0; o < co; o++) dst[to + o * ci + c] = src[from + c * co + o] as number;
    }
  }
  return out;
}

/** The k*k tap products into `dw` (`[k*k, ci, co]`), each on views of `xPad` and `dw`. */
function tapProducts(
  backend: WasmBackendView,
  matmul: (...args: unknown[]) => void,
  xPad: TensorInfo,
  gPad: TensorInfo,
  dw: TensorInfo,
  offsets: readonly number[],
  ci: number,
  len: number,
  co: number,
): void {
  const xPtr = ptr(backend, xPad);
  const outPtr = ptr(backend, dw);
  const gId = id(backend, gPad);
  const aShape = shapeBytes([1, ci, len]);
  const bShape = shapeBytes([1, len, co]);
  const { tfjs } = backend.wasm;
  offsets.forEach((offset, t) => {
    const a = backend.dataIdNextNumber++;
    const o = backend.dataIdNextNumber++;
    tfjs.registerTensor(a, ci * len, xPtr + 4 * offset);
    tfjs.registerTensor(o, ci * co, outPtr + 4 * t * ci * co);
    try {
      matmul(a, aShape, 3, gId, bShape, 3, 0, 0, o);
    } finally {
      // Forgets the ids only: the memory belongs to `xPad` and `dw`.
      tfjs.disposeData(a);
      tfjs.disposeData(o);
    }
  });
}
