/**
 * Seeded weight initialisation in plain JavaScript, so the same seed gives byte-identical initial
 * weights on every backend and machine.
 */

/** splitmix32: a small, well-mixed 32-bit generator; returns floats in [0, 1). */
export function createRng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 4294967296;
  };
}

/** A seed for stream `index` of a model seeded with `seed` (independent streams per layer). */
export function deriveSeed(seed: number, index: number): number {
  const next = createRng((Math.imul(seed >>> 0, 0x27d4eb2d) ^ Math.imul(index + 1, 0x165667b1)) >>> 0);
  next();
  return Math.floor(next() * 4294967296) >>> 0;
}

/**
 * Glorot (Xavier) uniform, Keras' default for `Conv2D`: `U(-l, l)` with
 * `l = sqrt(6 / (fanIn + fanOut))`, `fanIn = k*k*in`, `fanOut = k*k*out`.
 */
export function glorotUniform(shape: readonly [number, number, number, number], seed: number): Float32Array {
  const [kh, kw, ci, co] = shape;
  const limit = Math.sqrt(6 / (kh * kw * (ci + co)));
  const rng = createRng(seed);
  const out = new Float32Array(kh * kw * ci * co);
  for (let k = 0; k < out.length; k++) out[k] = (2 * rng() - 1) * limit;
  return out;
}
