/**
 * 2-D discrete Fourier transforms on the last two axes, written as real matrix products.
 *
 * `tf.spectral.fft` has no gradient and the wasm backend has no complex kernels, so a complex
 * tensor is an `(re, im)` pair of real tensors and a 2-D DFT is two products with precomputed
 * cos/sin matrices: `Y = T(T(X R) R)` where `T` swaps the last two axes and `R` is the 1-D DFT
 * matrix (with `fftshift` folded in when asked). Every product is a plain 2-D matmul with a
 * constant right operand whose gradient uses the precomputed transpose ({@link matmulConst}), so the
 * gradients are exact on every backend and fast on wasm.
 *
 * Scaling is unitary (`1/sqrt(N)` per axis): `dft2` equals `fft2(x) / N` (numpy notation), and
 * `idft2(dft2(x)) = x`. Upstream PtychoPINN's diffraction amplitude is `|fft2(x)| / N` with the zero
 * frequency shifted to the centre, i.e. `|dft2(x, { shift: true })|`.
 */
import type { Tensor, Tensor2D } from "@tensorflow/tfjs";
import { type Complex, type ConstMatrix, createConstMatrix, matmulConst } from "./ops.ts";
import { tf } from "./tfjs.ts";

export interface DftOptions {
  /**
   * `dft2`: apply `fftshift` to the result (zero frequency at index `floor(N/2)`);
   * `idft2`: apply `ifftshift` to the input first. Default `false`.
   */
  readonly shift?: boolean | undefined;
}

interface DftMatrix {
  readonly re: ConstMatrix;
  readonly im: ConstMatrix;
}

const cache = new Map<string, DftMatrix>();

/**
 * The right-multiplied 1-D transform matrix `R[k, j]`, so that the transform of a row vector `x` is
 * `x R`. Forward: `exp(-2 pi i k (j - s) / n) / sqrt(n)` with `s = floor(n/2)` when shifted (so
 * output index `j` holds frequency `j - s`). Inverse (`R^H`): `exp(+2 pi i j (k - s) / n) / sqrt(n)`.
 */
function dftMatrix(n: number, inverse: boolean, shift: boolean): DftMatrix {
  const key = `${n}|${inverse}|${shift}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const s = shift ? Math.floor(n / 2) : 0;
  const re = new Float32Array(n * n);
  const im = new Float32Array(n * n);
  const scale = 1 / Math.sqrt(n);
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < n; j++) {
      // Reduce the exponent modulo n in integers first so cos/sin stay exact for large n.
      const e = inverse ? (j * (k - s)) % n : (k * (j - s)) % n;
      const angle = ((inverse ? 2 : -2) * Math.PI * e) / n;
      re[k * n + j] = Math.cos(angle) * scale;
      im[k * n + j] = Math.sin(angle) * scale;
    }
  }
  const matrix = { re: createConstMatrix(re, n, n), im: createConstMatrix(im, n, n) };
  cache.set(key, matrix);
  return matrix;
}

/** Frees the cached DFT matrices (they are rebuilt on the next call). */
export function disposeDftCache(): void {
  for (const m of cache.values()) {
    for (const c of [m.re, m.im]) {
      c.m.dispose();
      c.mT.dispose();
    }
  }
  cache.clear();
}

/** `x R` on the last axis of `[..., n]` (complex x real-pair matrix). */
function rightMultiply(x: Complex, r: DftMatrix, n: number): Complex {
  const shape = x.re.shape;
  const rows = x.re.size / n;
  const xr = tf.reshape(x.re, [rows, n]) as Tensor2D;
  const xi = tf.reshape(x.im, [rows, n]) as Tensor2D;
  const re = tf.sub(matmulConst(xr, r.re), matmulConst(xi, r.im));
  const im = tf.add(matmulConst(xr, r.im), matmulConst(xi, r.re));
  return { re: tf.reshape(re, shape), im: tf.reshape(im, shape) };
}

function swapLastTwo(x: Tensor): Tensor {
  const rank = x.rank;
  const perm = [...Array(rank).keys()];
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return tf.transpose(x, perm);
}

function transform2(x: Complex, inverse: boolean, shift: boolean): Complex {
  const shape = x.re.shape;
  const n = shape[shape.length - 1];
  if (shape.length < 2 || n === undefined || shape[shape.length - 2] !== n) {
    throw new Error(`dft2: expected [..., N, N] with square last two axes, got [${shape.join(", ")}].`);
  }
  const r = dftMatrix(n, inverse, shift);
  const rows = rightMultiply(x, r, n);
  const cols = rightMultiply({ re: swapLastTwo(rows.re), im: swapLastTwo(rows.im) }, r, n);
  return { re: swapLastTwo(cols.re), im: swapLastTwo(cols.im) };
}

/**
 * Unitary 2-D DFT over the last two (square) axes of a complex `[..., N, N]` tensor:
 * `fft2(x) / N`, followed by `fftshift` when `shift` is set.
 */
export function dft2<T extends Tensor>(x: Complex<T>, options: DftOptions = {}): Complex<T> {
  return transform2(x, false, options.shift ?? false) as Complex<T>;
}

/** Inverse of {@link dft2} (same `shift` meaning `ifftshift` of the input first): `N * ifft2(x)`. */
export function idft2<T extends Tensor>(x: Complex<T>, options: DftOptions = {}): Complex<T> {
  return transform2(x, true, options.shift ?? false) as Complex<T>;
}

/** `fftshift` over the last two axes (a roll by `floor(N/2)` along each). */
export function fftshift2<T extends Tensor>(x: T): T {
  return roll2(x, false);
}

/** `ifftshift` over the last two axes (a roll by `-floor(N/2)`); equals `fftshift2` for even sizes. */
export function ifftshift2<T extends Tensor>(x: T): T {
  return roll2(x, true);
}

function roll2<T extends Tensor>(x: T, inverse: boolean): T {
  let out: Tensor = x;
  for (const axis of [x.rank - 2, x.rank - 1]) {
    const n = x.shape[axis] as number;
    const shift = inverse ? n - Math.floor(n / 2) : Math.floor(n / 2);
    if (shift % n === 0) continue;
    // roll by `shift`: the last `shift` entries move to the front.
    const begin = new Array<number>(x.rank).fill(0);
    const headSize = out.shape.slice();
    headSize[axis] = n - shift;
    const tailBegin = begin.slice();
    tailBegin[axis] = n - shift;
    const tailSize = out.shape.slice();
    tailSize[axis] = shift;
    out = tf.concat([tf.slice(out, tailBegin, tailSize), tf.slice(out, begin, headSize)], axis);
  }
  return out as T;
}
