/**
 * Seeded random numbers for the dataset simulator: xoshiro128** (Blackman and Vigna) seeded through
 * splitmix64, with uniform, normal and Poisson samplers. Never `Math.random`: the same seed and
 * stream give the same sequence on every run.
 */

const MASK64 = (1n << 64n) - 1n;

/** One splitmix64 step: returns the new state and its output. */
function splitmix64(state: bigint): [bigint, bigint] {
  const next = (state + 0x9e3779b97f4a7c15n) & MASK64;
  let z = next;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return [next, z ^ (z >> 31n)];
}

const TWO_POW_26 = 67108864;
const TWO_POW_53 = 9007199254740992;

// Coefficients of the Stirling series for log-gamma (as in numpy's random_loggam).
const LOGGAM_COEFFICIENTS = [
  8.333333333333333e-2, -2.777777777777778e-3, 7.936507936507937e-4, -5.952380952380952e-4,
  8.417508417508418e-4, -1.917526917526918e-3, 6.41025641025641e-3, -2.955065359477124e-2,
  1.796443723688307e-1, -1.3924322169059,
] as const;
const LOG_2PI = 1.8378770664093453;

/** log(Gamma(x)) for x >= 1, accurate to double precision (numpy's random_loggam). */
export function logGamma(x: number): number {
  if (x === 1 || x === 2) return 0;
  const n = x < 7 ? Math.floor(7 - x) : 0;
  let x0 = x + n;
  const x2 = 1 / (x0 * x0);
  let series = LOGGAM_COEFFICIENTS[9];
  for (let k = 8; k >= 0; k--) series = series * x2 + LOGGAM_COEFFICIENTS[k]!;
  let result = series / x0 + 0.5 * LOG_2PI + (x0 - 0.5) * Math.log(x0) - x0;
  for (let k = 1; k <= n; k++) {
    result -= Math.log(x0 - 1);
    x0 -= 1;
  }
  return result;
}

/** A seeded generator. Streams with different ids are independent sequences of the same seed. */
export class Random {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;
  #spareNormal: number | undefined;

  /** `seed`: a non-negative safe integer; `stream`: a small integer naming an independent sequence. */
  constructor(seed: number, stream = 0) {
    const start = (BigInt(seed) * 0x9e3779b97f4a7c15n + BigInt(stream) * 0xd1b54a32d192ed03n) & MASK64;
    const [state, a] = splitmix64(start);
    const [, b] = splitmix64(state);
    this.#s0 = Number(a & 0xffffffffn) | 0;
    this.#s1 = Number(a >> 32n) | 0;
    this.#s2 = Number(b & 0xffffffffn) | 0;
    this.#s3 = Number(b >> 32n) | 0;
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1; // never all zero
    this.#spareNormal = undefined;
  }

  /** The next 32 random bits, as an unsigned integer. */
  nextUint32(): number {
    const s1 = this.#s1;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9);
    const t = s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = (this.#s3 << 11) | (this.#s3 >>> 21);
    return result >>> 0;
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    const high = this.nextUint32() >>> 5;
    const low = this.nextUint32() >>> 6;
    return (high * TWO_POW_26 + low) / TWO_POW_53;
  }

  /** A standard normal deviate (Box-Muller, the second value of each pair kept for the next call). */
  normal(): number {
    const spare = this.#spareNormal;
    if (spare !== undefined) {
      this.#spareNormal = undefined;
      return spare;
    }
    let u = this.uniform();
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const radius = Math.sqrt(-2 * Math.log(u));
    const angle = 2 * Math.PI * v;
    this.#spareNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  /**
   * A Poisson deviate of mean `lambda` (>= 0, finite): multiplication of uniforms below 10, and
   * Hörmann's transformed rejection (PTRS, as numpy uses) from 10 on. Exact for every mean, not an
   * approximation. RangeError for a negative, infinite or NaN mean.
   */
  poisson(lambda: number): number {
    // NaN would never be accepted by the rejection loop below: fail instead of hanging.
    if (!(lambda >= 0 && lambda < Number.POSITIVE_INFINITY)) {
      throw new RangeError(`Poisson mean must be a finite number >= 0, got ${lambda}`);
    }
    if (lambda === 0) return 0;
    if (lambda < 10) {
      const limit = Math.exp(-lambda);
      let k = 0;
      let product = this.uniform();
      while (product > limit) {
        k++;
        product *= this.uniform();
      }
      return k;
    }
    return this.#poissonPtrs(lambda);
  }

  #poissonPtrs(lambda: number): number {
    const sqrtLambda = Math.sqrt(lambda);
    const logLambda = Math.log(lambda);
    const b = 0.931 + 2.53 * sqrtLambda;
    const a = -0.059 + 0.02483 * b;
    const logInvAlpha = Math.log(1.1239 + 1.1328 / (b - 3.4));
    const vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
      const u = this.uniform() - 0.5;
      const v = this.uniform();
      const us = 0.5 - Math.abs(u);
      const k = Math.floor(((2 * a) / us + b) * u + lambda + 0.43);
      if (us >= 0.07 && v <= vr) return k;
      if (k < 0 || (us < 0.013 && v > us)) continue;
      if (
        Math.log(v) + logInvAlpha - Math.log(a / (us * us) + b) <=
        -lambda + k * logLambda - logGamma(k + 1)
      ) {
        return k;
      }
    }
  }
}
