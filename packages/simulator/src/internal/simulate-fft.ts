/**
 * A small complex FFT for the dataset simulator: iterative radix-2 for powers of two, Bluestein's
 * chirp-z algorithm (on a radix-2 transform) for every other length. Twiddles are precomputed per
 * plan; data are split real and imaginary `Float64Array`s, transformed in place.
 *
 * Convention (numpy's): forward X[k] = sum_j x[j] exp(-2 pi i j k / n), unscaled; inverse has 1/n.
 */

/** A transform of one length. Create once and reuse: plans hold their twiddles and scratch space. */
export interface FftPlan {
  readonly n: number;
  /** In place, unscaled: `re`/`im` hold at least `n` values from index 0. */
  forward(re: Float64Array, im: Float64Array): void;
  /** In place, scaled by 1/n, so `inverse(forward(x)) == x`. */
  inverse(re: Float64Array, im: Float64Array): void;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

class Radix2Plan implements FftPlan {
  readonly n: number;
  readonly #cos: Float64Array;
  readonly #sin: Float64Array;
  readonly #reverse: Uint32Array;

  constructor(n: number) {
    this.n = n;
    const half = n >> 1;
    this.#cos = new Float64Array(half);
    this.#sin = new Float64Array(half);
    for (let k = 0; k < half; k++) {
      const angle = (2 * Math.PI * k) / n;
      this.#cos[k] = Math.cos(angle);
      this.#sin[k] = Math.sin(angle);
    }
    this.#reverse = new Uint32Array(n);
    const bits = Math.round(Math.log2(n));
    for (let i = 0; i < n; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.#reverse[i] = r;
    }
  }

  forward(re: Float64Array, im: Float64Array): void {
    const n = this.n;
    const reverse = this.#reverse;
    for (let i = 0; i < n; i++) {
      const j = reverse[i]!;
      if (j > i) {
        const tr = re[i]!;
        re[i] = re[j]!;
        re[j] = tr;
        const ti = im[i]!;
        im[i] = im[j]!;
        im[j] = ti;
      }
    }
    const cos = this.#cos;
    const sin = this.#sin;
    for (let size = 2; size <= n; size <<= 1) {
      const half = size >> 1;
      const step = n / size;
      for (let start = 0; start < n; start += size) {
        for (let j = start, k = 0; j < start + half; j++, k += step) {
          const l = j + half;
          const c = cos[k]!;
          const s = sin[k]!;
          const lr = re[l]!;
          const li = im[l]!;
          // (lr + i li) * (c - i s): the twiddle exp(-2 pi i k / n)
          const tr = lr * c + li * s;
          const ti = li * c - lr * s;
          const jr = re[j]!;
          const ji = im[j]!;
          re[l] = jr - tr;
          im[l] = ji - ti;
          re[j] = jr + tr;
          im[j] = ji + ti;
        }
      }
    }
  }

  inverse(re: Float64Array, im: Float64Array): void {
    inverseByConjugation(this, re, im);
  }
}

/** inverse(x) = conj(forward(conj(x))) / n */
function inverseByConjugation(plan: FftPlan, re: Float64Array, im: Float64Array): void {
  const n = plan.n;
  for (let i = 0; i < n; i++) im[i] = -im[i]!;
  plan.forward(re, im);
  const scale = 1 / n;
  for (let i = 0; i < n; i++) {
    re[i] = re[i]! * scale;
    im[i] = -im[i]! * scale;
  }
}

class BluesteinPlan implements FftPlan {
  readonly n: number;
  readonly #inner: Radix2Plan;
  /** The chirp w[k] = exp(-i pi k^2 / n). */
  readonly #chirpRe: Float64Array;
  readonly #chirpIm: Float64Array;
  /** The transform of the conjugate chirp, wrapped to the inner length. */
  readonly #kernelRe: Float64Array;
  readonly #kernelIm: Float64Array;
  readonly #workRe: Float64Array;
  readonly #workIm: Float64Array;

  constructor(n: number) {
    this.n = n;
    let m = 1;
    while (m < 2 * n - 1) m <<= 1;
    this.#inner = new Radix2Plan(m);
    this.#chirpRe = new Float64Array(n);
    this.#chirpIm = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      // k^2 mod 2n keeps the angle small (and exact) for large k
      const angle = (Math.PI * ((k * k) % (2 * n))) / n;
      this.#chirpRe[k] = Math.cos(angle);
      this.#chirpIm[k] = -Math.sin(angle);
    }
    this.#kernelRe = new Float64Array(m);
    this.#kernelIm = new Float64Array(m);
    for (let k = 0; k < n; k++) {
      const re = this.#chirpRe[k]!;
      const im = -this.#chirpIm[k]!;
      this.#kernelRe[k] = re;
      this.#kernelIm[k] = im;
      if (k > 0) {
        this.#kernelRe[m - k] = re;
        this.#kernelIm[m - k] = im;
      }
    }
    this.#inner.forward(this.#kernelRe, this.#kernelIm);
    this.#workRe = new Float64Array(m);
    this.#workIm = new Float64Array(m);
  }

  forward(re: Float64Array, im: Float64Array): void {
    const n = this.n;
    const m = this.#inner.n;
    const wr = this.#workRe;
    const wi = this.#workIm;
    const cr = this.#chirpRe;
    const ci = this.#chirpIm;
    for (let k = 0; k < n; k++) {
      const xr = re[k]!;
      const xi = im[k]!;
      wr[k] = xr * cr[k]! - xi * ci[k]!;
      wi[k] = xr * ci[k]! + xi * cr[k]!;
    }
    wr.fill(0, n);
    wi.fill(0, n);
    this.#inner.forward(wr, wi);
    const kr = this.#kernelRe;
    const ki = this.#kernelIm;
    for (let k = 0; k < m; k++) {
      const ar = wr[k]!;
      const ai = wi[k]!;
      wr[k] = ar * kr[k]! - ai * ki[k]!;
      wi[k] = ar * ki[k]! + ai * kr[k]!;
    }
    this.#inner.inverse(wr, wi);
    for (let k = 0; k < n; k++) {
      const ar = wr[k]!;
      const ai = wi[k]!;
      re[k] = ar * cr[k]! - ai * ci[k]!;
      im[k] = ar * ci[k]! + ai * cr[k]!;
    }
  }

  inverse(re: Float64Array, im: Float64Array): void {
    inverseByConjugation(this, re, im);
  }
}

class TrivialPlan implements FftPlan {
  readonly n = 1;
  forward(): void {}
  inverse(): void {}
}

/** A plan for length `n` (a positive integer). */
export function createFftPlan(n: number): FftPlan {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`FFT length must be a positive integer, got ${n}`);
  if (n === 1) return new TrivialPlan();
  return isPowerOfTwo(n) ? new Radix2Plan(n) : new BluesteinPlan(n);
}

/**
 * A 2-D forward transform of an n x n row-major array, in place: rows, then columns (each copied
 * to scratch space).
 */
export class Fft2d {
  readonly n: number;
  readonly #plan: FftPlan;
  readonly #columnRe: Float64Array;
  readonly #columnIm: Float64Array;

  constructor(n: number) {
    this.n = n;
    this.#plan = createFftPlan(n);
    this.#columnRe = new Float64Array(n);
    this.#columnIm = new Float64Array(n);
  }

  forward(re: Float64Array, im: Float64Array): void {
    const n = this.n;
    const plan = this.#plan;
    for (let row = 0; row < n; row++) {
      plan.forward(re.subarray(row * n, row * n + n), im.subarray(row * n, row * n + n));
    }
    const cr = this.#columnRe;
    const ci = this.#columnIm;
    for (let col = 0; col < n; col++) {
      for (let row = 0, i = col; row < n; row++, i += n) {
        cr[row] = re[i]!;
        ci[row] = im[i]!;
      }
      plan.forward(cr, ci);
      for (let row = 0, i = col; row < n; row++, i += n) {
        re[i] = cr[row]!;
        im[i] = ci[row]!;
      }
    }
  }
}
