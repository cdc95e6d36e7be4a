/**
 * Differentiable building blocks with gradients that are fast on the wasm backend.
 *
 * Layout: images are NHWC (`[batch, height, width, channels]`), TensorFlow.js' native layout.
 *
 * Why custom gradients: the wasm backend has no `Conv2DBackpropFilter` kernel, its
 * `Conv2DBackpropInput` (conv2dTranspose) is ~10x slower than a forward convolution, and its
 * `BatchMatMul` runs XNNPACK only for a plain 2-D product (no transposes, batch 1); every other
 * matmul falls back to a naive loop. Every gradient here is therefore written with forward
 * convolutions, plain 2-D matmuls, transposes, pads and contiguous slices.
 */
import type { GradSaveFunc, Tensor, Tensor1D, Tensor2D, Tensor4D } from "@tensorflow/tfjs";
import { convBackward, convBackwardApplies } from "./internal/conv-backward-kernel.ts";
import { currentLayer, profileLayer } from "./internal/profile.ts";
import { referenceOps } from "./internal/reference.ts";
import { tf } from "./tfjs.ts";

/** Activation fused into {@link conv2dSame}. */
export type ConvActivation = "linear" | "relu";

/** A complex tensor as a pair of real tensors of one shape. */
export interface Complex<T extends Tensor = Tensor> {
  readonly re: T;
  readonly im: T;
}

export interface Conv2dOptions {
  /** Bias added per output channel (shape `[outChannels]`). */
  readonly bias?: Tensor1D | undefined;
  /** Activation applied after the bias; default `"linear"`. */
  readonly activation?: ConvActivation | undefined;
  /** Compute the filter (and bias) gradient; `false` for fixed kernels (their gradient is zeros). */
  readonly filterGrad?: boolean | undefined;
  /** Compute the input gradient; `false` when `x` is data (its gradient is then zeros). */
  readonly inputGrad?: boolean | undefined;
}

type ConvFn = (...args: Tensor[]) => Tensor4D;
const convCache = new Map<string, ConvFn>();

/**
 * Stride-1 "same" 2-D convolution of NHWC `x` with a `[k, k, in, out]` filter, `k` odd (1, 3, 5...),
 * with optional bias and ReLU fused, and a fast custom gradient:
 * - input gradient: a forward convolution of the output gradient with the flipped, transposed filter;
 * - filter gradient: for each of the k*k taps one 2-D matmul `[in, L] x [L, out]` whose left operand
 *   is a contiguous window of the zero-padded, channel-major input (the "flat window" trick: in the
 *   padded, flattened image a tap is a constant offset), with the padded output gradient as the
 *   shared right operand (XNNPACK packs it once); on wasm the windows are views, not copies, and
 *   the whole backward pass is one kernel call (`conv-backward-kernel.ts`, the same arithmetic);
 * - bias gradient: a ones-row matmul against that same operand;
 * - one or two output channels (XNNPACK runs those at ~1/8 speed): the forward pass is one matmul
 *   for all taps plus a flat-window sum, and the filter gradient puts the taps in the right operand.
 * Works on every backend; on wasm a step is ~3.5x its forward pass.
 */
export function conv2dSame(x: Tensor4D, filter: Tensor4D, options: Conv2dOptions = {}): Tensor4D {
  const [kh, kw] = filter.shape;
  if (kh !== kw || kh % 2 !== 1) {
    throw new Error(`conv2dSame: the filter must be square with an odd size, got ${kh}x${kw}.`);
  }
  const activation = options.activation ?? "linear";
  const withBias = options.bias !== undefined;
  if (referenceOps()) {
    const y = tf.conv2d(x, filter, 1, "same");
    const biased: Tensor4D = options.bias === undefined ? y : tf.add(y, options.bias);
    return activation === "relu" ? tf.relu(biased) : biased;
  }
  const filterGrad = options.filterGrad ?? true;
  const inputGrad = options.inputGrad ?? true;
  const key = `${activation}|${withBias}|${filterGrad}|${inputGrad}`;
  let fn = convCache.get(key);
  if (fn === undefined) {
    fn = makeConv(activation, withBias, filterGrad, inputGrad);
    convCache.set(key, fn);
  }
  return withBias ? fn(x, filter, options.bias as Tensor1D) : fn(x, filter);
}

function makeConv(
  activation: ConvActivation,
  withBias: boolean,
  filterGrad: boolean,
  inputGrad: boolean,
): ConvFn {
  return tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const x = args[0] as Tensor4D;
    const w = args[1] as Tensor4D;
    const b = withBias ? (args[2] as Tensor1D) : undefined;
    const save = args[withBias ? 3 : 2] as GradSaveFunc;
    const y = convForward(x, w, b, activation);
    save([x, w, y]);
    const layer = currentLayer();
    return {
      value: y,
      // TensorFlow.js calls a custom gradient outside any tidy scope: without this tidy every
      // temporary would live until the whole backward pass ends (a 10x higher memory peak).
      gradFunc: (dy: Tensor4D, saved: Tensor[]): Tensor[] =>
        profileLayer(layer, () =>
          tf.tidy(() => {
            const [sx, sw, sy] = saved as [Tensor4D, Tensor4D, Tensor4D];
            if (convBackwardApplies(sw.shape)) {
              // The same kernels as below, in one call (see conv-backward-kernel.ts).
              const relu = activation === "relu";
              return convBackward({ x: sx, w: sw, y: sy, dy }, { relu, inputGrad, filterGrad, withBias });
            }
            const g: Tensor4D = activation === "relu" ? tf.mul(dy, tf.step(sy)) : dy;
            const dx = inputGrad ? convInputGrad(g, sw) : tf.zerosLike(sx);
            if (!filterGrad) {
              return withBias ? [dx, tf.zerosLike(sw), tf.zeros([sw.shape[3]])] : [dx, tf.zerosLike(sw)];
            }
            const { dw, db } = convFilterGrad(sx, g, sw.shape[0]);
            return withBias ? [dx, dw, db] : [dx, dw];
          }),
        ),
    };
  }) as ConvFn;
}

function convForward(
  x: Tensor4D,
  w: Tensor4D,
  b: Tensor1D | undefined,
  activation: ConvActivation,
): Tensor4D {
  if (w.shape[3] === 1 && w.shape[0] > 1) {
    const linear = singleOutputConv(x, w);
    const biased: Tensor4D = b === undefined ? linear : tf.add(linear, b);
    return activation === "relu" ? tf.relu(biased) : biased;
  }
  // The kernel directly: `tf.fused.conv2d` un-fuses bias and ReLU while gradients are recorded.
  return tf
    .engine()
    .runKernel("FusedConv2D", b === undefined ? { x, filter: w } : { x, filter: w, bias: b }, {
      strides: [1, 1],
      pad: "same",
      dataFormat: "NHWC",
      dilations: [1, 1],
      activation,
      leakyreluAlpha: 0,
    }) as Tensor4D;
}

/**
 * A k x k convolution with one output channel (XNNPACK's convolution runs at ~1/8 of its speed when
 * there is a single output channel): one matmul `[pixels, in] x [in, k*k]` gives every tap's
 * contribution, and the k*k shifted planes are summed with the flat-window trick.
 */
function singleOutputConv(x: Tensor4D, w: Tensor4D): Tensor4D {
  const [b, h, wd, ci] = x.shape;
  const k = w.shape[0];
  const r = (k - 1) / 2;
  const wp = wd + r;
  const len = b * (h + r) * wp;
  const taps = k * k;
  const maxOffset = (k - 1) * wp + (k - 1);
  const perTap = tf.transpose(tf.reshape(w, [taps, ci])); // [in, taps]
  const z = tf.transpose(tf.matMul(tf.reshape(x, [b * h * wd, ci]), perTap)); // [taps, pixels]
  const planes = tf.pad(tf.reshape(z, [taps * b, h, wd]), [
    [0, 0],
    [r, 0],
    [r, 0],
  ]);
  const flat = tf.pad(tf.reshape(planes, [taps * len]), [[0, maxOffset]]);
  const terms: Tensor[] = [];
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) terms.push(tf.slice(flat, [(i * k + j) * len + i * wp + j], [len]));
  }
  const sum = tf.reshape(tf.addN(terms), [b, h + r, wp, 1]) as Tensor4D;
  return tf.slice(sum, [0, 0, 0, 0], [b, h, wd, 1]);
}

/** Input gradient of a stride-1 "same" convolution: a forward convolution with the flipped filter. */
function convInputGrad(g: Tensor4D, w: Tensor4D): Tensor4D {
  const k = w.shape[0];
  if (k === 1) {
    const [b, h, wd, co] = g.shape;
    const wT = tf.reshape(tf.transpose(tf.reshape(w, [w.shape[2], co])), [co, w.shape[2]]) as Tensor2D;
    return tf.reshape(tf.matMul(tf.reshape(g, [b * h * wd, co]), wT), [b, h, wd, w.shape[2]]);
  }
  // Spatial flip as k*k contiguous row slices in reverse order (the wasm Reverse and Gather kernels
  // are ~10x slower here), then swap in/out channels.
  const [, , ci, co] = w.shape;
  const rows = tf.reshape(w, [k * k, ci * co]);
  const reversed = Array.from({ length: k * k }, (_, i) => tf.slice(rows, [k * k - 1 - i, 0], [1, ci * co]));
  const flipped = tf.transpose(tf.reshape(tf.concat(reversed), [k, k, ci, co]), [0, 1, 3, 2]) as Tensor4D;
  return tf.conv2d(g, flipped, 1, "same");
}

/**
 * `transpose(x, [3, 0, 1, 2])` of NHWC `x` as the 2-D transpose `[b*h*w, c] -> [c, b*h*w]` (the same
 * permutation; the wasm backend runs a 2-D transpose ~2x faster than a 4-D one).
 */
function channelMajor(x: Tensor4D): Tensor4D {
  const [b, h, w, c] = x.shape;
  return tf.reshape(tf.transpose(tf.reshape(x, [b * h * w, c])), [c, b, h, w]);
}

/**
 * Filter and bias gradients of a stride-1 "same" k x k convolution as TensorFlow.js ops (flat-window
 * matmuls); exported so the tap-product kernels are tested against it.
 */
export function convFilterGrad(x: Tensor4D, g: Tensor4D, k: number): { dw: Tensor4D; db: Tensor1D } {
  const [b, h, w, ci] = x.shape;
  const co = g.shape[3];
  if (k === 1) {
    const p = b * h * w;
    const g2 = tf.reshape(g, [p, co]) as Tensor2D;
    const xT = tf.transpose(tf.reshape(x, [p, ci]));
    const dw = tf.reshape(tf.matMul(xT, g2), [1, 1, ci, co]) as Tensor4D;
    const db = tf.reshape(tf.matMul(tf.ones([1, p]), g2), [co]) as Tensor1D;
    return { dw, db };
  }
  const r = (k - 1) / 2;
  const wp = w + r;
  const len = b * (h + r) * wp;
  if (co <= 2) return filterGradFewOutputs(x, g, k);
  // Channel-major, zero-padded, flattened input with a zero tail (an extra zero channel, longer than
  // the largest offset): tap (i, j) is the window starting at i*wp+j.
  const xPad = tf.pad(channelMajor(x), [
    [0, 1],
    [0, 0],
    [r, 0],
    [r, 0],
  ]);
  const xFlat = tf.reshape(xPad, [(ci + 1) * len]);
  // Output gradient placed at the top-left of each padded image (zeros elsewhere), as [len, out].
  const gPad = tf.reshape(
    tf.pad(g, [
      [0, 0],
      [0, r],
      [0, r],
      [0, 0],
    ]),
    [len, co],
  );
  const offsets: number[] = [];
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) offsets.push(i * wp + j);
  const products = tf.stack(
    offsets.map((offset) => tf.matMul(tf.reshape(tf.slice(xFlat, [offset], [ci * len]), [ci, len]), gPad)),
  );
  const dw = tf.reshape(products, [k, k, ci, co]) as Tensor4D;
  const db = tf.reshape(tf.matMul(tf.ones([1, len]), gPad), [co]) as Tensor1D;
  return { dw, db };
}

/**
 * Filter gradient for 1-2 output channels, where a `[in, L] x [L, out]` product per tap would waste
 * most of XNNPACK's vector lanes: the taps go into the right operand instead, as k*k shifted copies
 * of the (small) output gradient, and one matmul `[in, L + max] x [L + max, k*k*out]` gives every tap.
 */
function filterGradFewOutputs(x: Tensor4D, g: Tensor4D, k: number): { dw: Tensor4D; db: Tensor1D } {
  const [b, h, w, ci] = x.shape;
  const co = g.shape[3];
  const r = (k - 1) / 2;
  const wp = w + r;
  const len = b * (h + r) * wp;
  const maxOffset = (k - 1) * wp + (k - 1);
  const xPad = tf.pad(channelMajor(x), [
    [0, 0],
    [0, 0],
    [r, 0],
    [r, 0],
  ]);
  const rows = tf.pad(tf.reshape(xPad, [ci, len]), [
    [0, 0],
    [0, maxOffset],
  ]);
  const gRows = tf.reshape(
    tf.pad(channelMajor(g), [
      [0, 0],
      [0, 0],
      [0, r],
      [0, r],
    ]),
    [co, len],
  );
  const shifted: Tensor[] = [];
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const offset = i * wp + j;
      shifted.push(
        tf.pad(gRows, [
          [0, 0],
          [offset, maxOffset - offset],
        ]),
      );
    }
  }
  const right = tf.transpose(tf.reshape(tf.stack(shifted), [k * k * co, len + maxOffset])); // [L+max, taps*out]
  const dw = tf.reshape(tf.transpose(tf.reshape(tf.matMul(rows, right), [ci, k * k, co]), [1, 0, 2]), [
    k,
    k,
    ci,
    co,
  ]) as Tensor4D;
  const db = tf.sum(gRows, 1) as Tensor1D;
  return { dw, db };
}

/**
 * 2x nearest-neighbour upsampling as a broadcast product with ones (`x * 1` is exact): XNNPACK's
 * broadcasting multiply is ~4x faster than the wasm `ResizeNearestNeighbor` kernel.
 */
function upsampleNearest(x: Tensor4D): Tensor4D {
  const [b, h, w, c] = x.shape;
  return tf.reshape(tf.mul(tf.reshape(x, [b, h, 1, w, 1, c]), tf.ones([1, 1, 2, 1, 2, 1])), [
    b,
    2 * h,
    2 * w,
    c,
  ]);
}

const maxPoolFn = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
  const x = args[0] as Tensor4D;
  const save = args[1] as GradSaveFunc;
  const y = tf.maxPool(x, 2, 2, "valid");
  save([x, y]);
  const layer = currentLayer();
  return {
    value: y,
    gradFunc: (dy: Tensor4D, saved: Tensor[]): Tensor =>
      profileLayer(layer, () =>
        tf.tidy(() => {
          const [sx, sy] = saved as [Tensor4D, Tensor4D];
          const [b, h, w, c] = sx.shape;
          // Windows as axes 2 and 4 of [b, h/2, 2, w/2, 2, c]: the pooled values and their gradient
          // broadcast over them (the values of an upsampling, without materialising it).
          const windows = [b, h / 2, 1, w / 2, 1, c];
          // 1 where x equals its window's maximum (ties all receive the gradient), else 0.
          const mask = tf.sub(
            1,
            tf.step(tf.sub(tf.reshape(sy, windows), tf.reshape(sx, [b, h / 2, 2, w / 2, 2, c]))),
          );
          return tf.reshape(tf.mul(tf.reshape(dy, windows), mask), [b, h, w, c]);
        }),
      ),
  };
}) as (x: Tensor4D) => Tensor4D;

/**
 * 2x2, stride-2 max pooling of NHWC `x` (even height and width), with a gradient built from
 * nearest-neighbour upsampling and a comparison mask (the wasm `MaxPoolGrad` kernel is ~30x slower).
 * Where several inputs tie for a window's maximum, each receives the full gradient.
 */
export function maxPool2(x: Tensor4D): Tensor4D {
  return referenceOps() ? tf.maxPool(x, 2, 2, "valid") : maxPoolFn(x);
}

const upsampleFn = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
  const x = args[0] as Tensor4D;
  const layer = currentLayer();
  return {
    value: upsampleNearest(x),
    gradFunc: (dy: Tensor4D): Tensor =>
      profileLayer(layer, () => tf.tidy(() => tf.mul(tf.avgPool(dy, 2, 2, "valid"), 4))),
  };
}) as (x: Tensor4D) => Tensor4D;

/** 2x nearest-neighbour upsampling of NHWC `x`; its gradient is a 2x2 block sum (4 x avgPool). */
export function upsample2(x: Tensor4D): Tensor4D {
  if (referenceOps()) {
    // Stack + reshape: the cpu ResizeNearestNeighborGrad of TensorFlow.js 4.22 is wrong for batch > 1.
    const [b, h, w, c] = x.shape;
    const wide = tf.reshape(tf.stack([x, x], 3), [b, h, 2 * w, c]);
    return tf.reshape(tf.stack([wide, wide], 2), [b, 2 * h, 2 * w, c]);
  }
  return upsampleFn(x);
}

/** A constant matrix with its transpose precomputed, for {@link matmulConst}. */
export interface ConstMatrix {
  readonly m: Tensor2D;
  readonly mT: Tensor2D;
}

/** Wraps a constant `[k, n]` matrix (kept alive until {@link disposeConstMatrix}). */
export function createConstMatrix(values: Float32Array, k: number, n: number): ConstMatrix {
  return tf.tidy(() => {
    const m = tf.keep(tf.tensor2d(values, [k, n]));
    const mT = tf.keep(tf.transpose(m));
    return { m, mT };
  });
}

export function disposeConstMatrix(matrix: ConstMatrix): void {
  matrix.m.dispose();
  matrix.mT.dispose();
}

const matmulConstCache = new WeakMap<ConstMatrix, (x: Tensor2D) => Tensor2D>();

/**
 * `x @ matrix.m` for a constant matrix, with the gradient `dy @ matrix.mT` (a plain 2-D product:
 * the default gradient uses a transposed matmul, which the wasm backend runs as a naive loop).
 */
export function matmulConst(x: Tensor2D, matrix: ConstMatrix): Tensor2D {
  if (referenceOps()) return tf.matMul(x, matrix.m);
  let fn = matmulConstCache.get(matrix);
  if (fn === undefined) {
    fn = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
      const input = args[0] as Tensor2D;
      const layer = currentLayer();
      return {
        value: tf.matMul(input, matrix.m),
        gradFunc: (dy: Tensor2D): Tensor => profileLayer(layer, () => tf.matMul(dy, matrix.mT)),
      };
    }) as (x: Tensor2D) => Tensor2D;
    matmulConstCache.set(matrix, fn);
  }
  return fn(x);
}

/** Complex product `a * b` (broadcasting as `tf.mul`). */
export function complexMul<T extends Tensor>(a: Complex<T>, b: Complex<Tensor>): Complex<T> {
  return {
    re: tf.sub(tf.mul(a.re, b.re), tf.mul(a.im, b.im)) as T,
    im: tf.add(tf.mul(a.re, b.im), tf.mul(a.im, b.re)) as T,
  };
}

/** The cosine and sine of the phase being turned into a complex object (see {@link complexFromPolar}). */
let polarTrig: { readonly cos: Tensor; readonly sin: Tensor } | undefined;

/**
 * One part of `amplitude * exp(i phase)`: `amplitude * cos(phase)` (`part` 0) or `* sin(phase)` (1),
 * with TensorFlow.js' own gradients of those ops (Multiply; Cos: `-sin(x) dy`; Sin: `cos(x) dy`) but
 * with the forward pass's cos and sin instead of evaluating them again in the backward pass: the
 * same products, so the same bytes, without two of the four transcendental passes.
 */
function polarPart(part: 0 | 1) {
  return tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const amplitude = args[0] as Tensor;
    const save = args[2] as GradSaveFunc;
    const { cos, sin } = polarTrig as { cos: Tensor; sin: Tensor };
    save([amplitude, cos, sin]);
    const layer = currentLayer();
    return {
      value: tf.mul(amplitude, part === 0 ? cos : sin),
      gradFunc: (dy: Tensor, saved: Tensor[]): Tensor[] =>
        profileLayer(layer, () =>
          tf.tidy(() => {
            const [a, c, s] = saved as [Tensor, Tensor, Tensor];
            return part === 0
              ? [tf.mul(dy, c), tf.mul(tf.neg(s), tf.mul(dy, a))]
              : [tf.mul(dy, s), tf.mul(c, tf.mul(dy, a))];
          }),
        ),
    };
  }) as unknown as (amplitude: Tensor, phase: Tensor) => Tensor;
}
const polarRe = polarPart(0);
const polarIm = polarPart(1);

/** `amplitude * exp(i * phase)`. */
export function complexFromPolar<T extends Tensor>(amplitude: T, phase: T): Complex<T> {
  if (referenceOps() || !tf.util.arraysEqual(amplitude.shape, phase.shape)) {
    return { re: tf.mul(amplitude, tf.cos(phase)) as T, im: tf.mul(amplitude, tf.sin(phase)) as T };
  }
  const trig = tf.tidy(() => ({ cos: tf.keep(tf.cos(phase)), sin: tf.keep(tf.sin(phase)) }));
  polarTrig = trig;
  try {
    return { re: polarRe(amplitude, phase) as T, im: polarIm(amplitude, phase) as T };
  } finally {
    polarTrig = undefined;
    trig.cos.dispose();
    trig.sin.dispose();
  }
}

/** `|z|^2 = re^2 + im^2`. */
export function complexAbs2<T extends Tensor>(z: Complex<T>): T {
  return tf.add(tf.square(z.re), tf.square(z.im)) as T;
}

/** Applies `fn` to the real and imaginary parts separately (for real-linear maps). */
export function mapComplex<T extends Tensor, U extends Tensor>(z: Complex<T>, fn: (t: T) => U): Complex<U> {
  return { re: fn(z.re), im: fn(z.im) };
}
