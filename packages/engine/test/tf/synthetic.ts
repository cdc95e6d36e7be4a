import type { Tensor4D } from "@tensorflow/tfjs";
import { dft2 } from "../../src/tf/fourier.ts";
import { createRng } from "../../src/tf/init.ts";
import { normalizeProbe } from "../../src/tf/probe.ts";
import { tf } from "../../src/tf/tfjs.ts";
import { diskProbe } from "./helpers.ts";

export interface SyntheticData {
  readonly n: number;
  readonly count: number;
  /** Diffraction amplitudes `[count, n, n, 1]` (row-major), `|dft2(probe * patch)|` with the unitary, shifted DFT. */
  readonly diffraction: Float32Array;
  /** Ground-truth patches `[count, n, n, 1]`. */
  readonly patchRe: Float32Array;
  readonly patchIm: Float32Array;
  readonly probe: { re: Float32Array; im: Float32Array; N: number };
}

/** Smooth random field on `size x size`: a sum of Gaussian bumps, roughly in [-1, 1]. */
function smoothField(size: number, seed: number, bumps = 8): Float64Array {
  const rng = createRng(seed);
  const out = new Float64Array(size * size);
  for (let k = 0; k < bumps; k++) {
    const cy = rng() * size;
    const cx = rng() * size;
    const s = 6 + rng() * 14;
    const a = 2 * rng() - 1;
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < size; j++) {
        out[i * size + j] =
          (out[i * size + j] as number) + a * Math.exp(-((i - cy) ** 2 + (j - cx) ** 2) / (2 * s * s));
      }
    }
  }
  return out;
}

/**
 * A smooth random complex object (amplitude 0.5..1, phase within about +-1 rad), a blurred disk
 * probe normalised as the model normalises it (probeScale 4), and `count` patches at random scan
 * positions with their far-field amplitudes. Needs an initialised backend.
 */
export function makeSyntheticData(n: number, count: number, seed: number): SyntheticData {
  const size = 2 * n;
  const amp = smoothField(size, seed);
  const phase = smoothField(size, seed + 1);
  const raw = diskProbe(n, n / 5);
  const probe = normalizeProbe(raw, 4);
  const rng = createRng(seed + 2);
  const patchRe = new Float32Array(count * n * n);
  const patchIm = new Float32Array(count * n * n);
  for (let p = 0; p < count; p++) {
    const oy = Math.floor(rng() * (size - n));
    const ox = Math.floor(rng() * (size - n));
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const k = (oy + i) * size + ox + j;
        const a = 0.75 + 0.25 * Math.tanh(amp[k] as number);
        const ph = Math.tanh(phase[k] as number);
        patchRe[(p * n + i) * n + j] = a * Math.cos(ph);
        patchIm[(p * n + i) * n + j] = a * Math.sin(ph);
      }
    }
  }
  const diffraction = tf.tidy(() => {
    const pr = tf.tensor3d(probe.re, [1, n, n]);
    const pi = tf.tensor3d(probe.im, [1, n, n]);
    const or = tf.tensor3d(patchRe, [count, n, n]);
    const oi = tf.tensor3d(patchIm, [count, n, n]);
    const psi = { re: tf.sub(tf.mul(or, pr), tf.mul(oi, pi)), im: tf.add(tf.mul(or, pi), tf.mul(oi, pr)) };
    const y = dft2(psi, { shift: true });
    return tf.sqrt(tf.add(tf.square(y.re), tf.square(y.im))).dataSync() as Float32Array;
  });
  return { n, count, diffraction, patchRe, patchIm, probe: { re: probe.re, im: probe.im, N: n } };
}

/** Rows `[start, start + size)` of a `[count, n, n, 1]` array as a tensor. */
export function batchOf(data: Float32Array, n: number, start: number, size: number): Tensor4D {
  return tf.tensor4d(data.subarray(start * n * n, (start + size) * n * n), [size, n, n, 1]);
}
