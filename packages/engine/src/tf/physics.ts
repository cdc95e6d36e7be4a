/**
 * The ptychographic forward model on NHWC patches `[B, N, N, C]`:
 * exit wave `psi = probe * object`, optionally smoothed (3x3 Gaussian) and masked, then the far-field
 * intensity `|dft2(psi)|^2` with the unitary, fftshifted DFT of {@link dft2} (upstream's
 * `pad_and_diffract`: `|fft2(psi)|^2 / N^2`, zero frequency at the centre).
 */
import type { Tensor, Tensor4D } from "@tensorflow/tfjs";
import { dft2 } from "./fourier.ts";
import { type Complex, complexAbs2, complexMul, mapComplex } from "./ops.ts";
import { gaussian1d } from "./probe.ts";
import { tf } from "./tfjs.ts";

/** `probe * object` with a probe `[N, N, 1]` (or `[N, N, C]`) broadcast over the batch. */
export function illuminate(object: Complex<Tensor4D>, probe: Complex<Tensor>): Complex<Tensor4D> {
  return complexMul(object, probe);
}

/**
 * Upstream's `gaussian_smoothing_sigma`: a 3x3 Gaussian filter of standard deviation `sigma` applied
 * to the real and imaginary parts of NHWC `x` over height and width, with reflect padding (TensorFlow
 * `REFLECT`: the edge pixel is not repeated). Separable; exact autodiff gradients.
 */
export function gaussianSmooth3(x: Complex<Tensor4D>, sigma: number): Complex<Tensor4D> {
  const g = gaussian1d(sigma, 1);
  const side = g[0] as number;
  const centre = g[1] as number;
  return mapComplex(x, (t) => smoothAxis(smoothAxis(t, 1, side, centre), 2, side, centre));
}

function smoothAxis(x: Tensor4D, axis: 1 | 2, side: number, centre: number): Tensor4D {
  const n = x.shape[axis];
  const part = (begin: number, size: number): Tensor4D => {
    const b = [0, 0, 0, 0];
    const s = [...x.shape];
    b[axis] = begin;
    s[axis] = size;
    return tf.slice(x, b, s);
  };
  // previous[i] = x[i-1] with x[-1] = x[1]; next[i] = x[i+1] with x[n] = x[n-2].
  const previous = tf.concat([part(1, 1), part(0, n - 1)], axis);
  const next = tf.concat([part(1, n - 1), part(n - 2, 1)], axis);
  return tf.add(tf.mul(x, centre), tf.mul(tf.add(previous, next), side));
}

/**
 * Far-field intensity `|dft2(psi)|^2` of NHWC exit waves `[B, N, N, C]` (unitary DFT over height and
 * width, zero frequency at `(N/2, N/2)`), returned as NHWC `[B, N, N, C]`.
 */
export function farFieldIntensity(psi: Complex<Tensor4D>): Tensor4D {
  const [b, n, , c] = psi.re.shape;
  const toPlanes = (t: Tensor4D): Tensor =>
    c === 1 ? tf.reshape(t, [b, n, n]) : tf.transpose(t, [0, 3, 1, 2]);
  const spectrum = dft2({ re: toPlanes(psi.re), im: toPlanes(psi.im) }, { shift: true });
  const intensity = complexAbs2(spectrum);
  return (c === 1 ? tf.reshape(intensity, [b, n, n, 1]) : tf.transpose(intensity, [0, 2, 3, 1])) as Tensor4D;
}
