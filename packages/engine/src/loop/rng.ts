import { LoopError } from "./errors.ts";

/**
 * A seeded pseudo-random generator: xoshiro128** (Blackman and Vigna), 128 bits of state, period
 * 2^128 - 1, seeded through splitmix32. Its whole state (including the spare normal deviate of the
 * Box-Muller pair) is plain JSON, so a resumed run continues the exact stream it left.
 */
export interface Rng {
  /** The next 32-bit unsigned integer. */
  next(): number;
  /** A double in [0, 1) with 53 random bits; with bounds, in [low, high). */
  uniform(low?: number, high?: number): number;
  /** A standard normal deviate (Box-Muller), scaled when mean/std are given. */
  normal(mean?: number, std?: number): number;
  /** An unbiased integer in [0, n); n a positive safe integer. */
  int(n: number): number;
  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<A extends MutableIndexable>(array: A): A;
  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array;
  /** k distinct integers drawn from [0, n), in draw order. */
  choose(n: number, k: number): Int32Array;
  /** A snapshot of the state; `setState` of it replays the same stream. */
  getState(): RngState;
  setState(state: RngState): void;
}

/** Anything with numeric indices and a length: arrays and typed arrays. */
export interface MutableIndexable {
  length: number;
  [index: number]: unknown;
}

/** JSON-serialisable generator state. */
export interface RngState {
  readonly algorithm: "xoshiro128**";
  /** The four 32-bit state words, as unsigned integers. */
  readonly s: readonly [number, number, number, number];
  /** The second deviate of the last Box-Muller pair, not yet returned. */
  readonly spare: number | null;
}

const TWO_32 = 4294967296;
const TWO_53 = 9007199254740992;

/** 32-bit FNV-1a of a string: names an independent stream (`createRng(seed, "shuffle")`). */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A seed for a named sub-stream of `seed` (so weights, shuffling and sampling draw from
 * independent streams of one run seed). Pure: the same inputs give the same seed.
 */
export function deriveSeed(seed: number, stream: string): number {
  let z = (seed ^ fnv1a(stream)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

function checkSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new LoopError("INVALID_OPTION", `rng seed: must be an integer in [0, 4294967295], got ${seed}.`);
  }
}

class Xoshiro128 implements Rng {
  #s0 = 0;
  #s1 = 0;
  #s2 = 0;
  #s3 = 0;
  #spare: number | null = null;

  constructor(seed: number) {
    let x = seed >>> 0;
    const splitmix = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      return (z ^ (z >>> 15)) >>> 0;
    };
    this.#s0 = splitmix();
    this.#s1 = splitmix();
    this.#s2 = splitmix();
    this.#s3 = splitmix();
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1;
  }

  next(): number {
    const s1 = this.#s1;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return r;
  }

  uniform(low = 0, high = 1): number {
    const a = this.next() >>> 5;
    const b = this.next() >>> 6;
    const u = (a * 67108864 + b) / TWO_53;
    return low === 0 && high === 1 ? u : low + (high - low) * u;
  }

  normal(mean = 0, std = 1): number {
    let z: number;
    if (this.#spare !== null) {
      z = this.#spare;
      this.#spare = null;
    } else {
      const u1 = 1 - this.uniform(); // (0, 1]: log is finite
      const u2 = this.uniform();
      const r = Math.sqrt(-2 * Math.log(u1));
      z = r * Math.cos(2 * Math.PI * u2);
      this.#spare = r * Math.sin(2 * Math.PI * u2);
    }
    return mean + std * z;
  }

  int(n: number): number {
    if (!Number.isSafeInteger(n) || n <= 0) {
      throw new LoopError("INVALID_OPTION", `rng.int(n): n must be a positive safe integer, got ${n}.`);
    }
    if (n <= TWO_32) {
      // Rejection sampling: no modulo bias.
      const limit = TWO_32 - (TWO_32 % n);
      for (;;) {
        const x = this.next();
        if (x < limit) return x % n;
      }
    }
    for (;;) {
      const x = Math.floor(this.uniform() * n);
      if (x < n) return x;
    }
  }

  shuffle<A extends MutableIndexable>(array: A): A {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  permutation(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    return this.shuffle(out);
  }

  choose(n: number, k: number): Int32Array {
    if (!Number.isInteger(k) || k < 0 || k > n) {
      throw new LoopError("INVALID_OPTION", `rng.choose(n, k): k must be an integer in [0, ${n}], got ${k}.`);
    }
    // Partial Fisher-Yates over a sparse swap table: O(k) time and memory for any n.
    const swapped = new Map<number, number>();
    const out = new Int32Array(k);
    for (let i = 0; i < k; i++) {
      const j = i + this.int(n - i);
      const vj = swapped.get(j) ?? j;
      swapped.set(j, swapped.get(i) ?? i);
      out[i] = vj;
    }
    return out;
  }

  getState(): RngState {
    return {
      algorithm: "xoshiro128**",
      s: [this.#s0 >>> 0, this.#s1 >>> 0, this.#s2 >>> 0, this.#s3 >>> 0],
      spare: this.#spare,
    };
  }

  setState(state: RngState): void {
    const s: unknown = state?.s;
    const valid =
      state?.algorithm === "xoshiro128**" &&
      Array.isArray(s) &&
      s.length === 4 &&
      s.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff) &&
      s.some((w) => w !== 0) &&
      (state.spare === null || Number.isFinite(state.spare));
    if (!valid) {
      throw new LoopError(
        "INVALID_STATE",
        `rng state: expected { algorithm: "xoshiro128**", s: four uint32 words not all 0, spare: number | null }, got ${JSON.stringify(state)}.`,
      );
    }
    const [a, b, c, d] = state.s;
    this.#s0 = a | 0;
    this.#s1 = b | 0;
    this.#s2 = c | 0;
    this.#s3 = d | 0;
    this.#spare = state.spare;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * A generator seeded with a uint32 `seed`; with `stream`, an independent named sub-stream of it
 * (see `deriveSeed`).
 */
export function createRng(seed: number, stream?: string): Rng {
  checkSeed(seed);
  return new Xoshiro128(stream === undefined ? seed : deriveSeed(seed, stream));
}
