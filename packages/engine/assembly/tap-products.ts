// Filter-gradient tap products for TrainkitConvBackward (src/tf/internal/conv-backward-kernel.ts),
// in AssemblyScript, compiled to 128-bit WebAssembly SIMD by `pnpm gen` (scripts/wasm.ts) into
// src/tf/internal/tap-products-wasm.ts; a test checks that the embedded bytes are this file's. For every tap t and input channel c:
//   dw[t][c][o] += sum over p in [0, len) of x[c*len + off[t] + p] * g[p*co + o]
// summed in ascending p, one multiply and one add per term (no fused multiply-add), from the value
// already in dw: exactly the order and rounding of XNNPACK's f32 GEMM, so the bytes are the same.
// The positions run in chunks so a chunk of x and g stays in cache for every tap and channel.

@inline function madd(acc: v128, a: v128, b: v128): v128 {
  return f32x4.add(acc, f32x4.mul(a, b));
}

// 4 channels x 8 outputs over n positions.
@inline function k4x8(x: usize, rb: usize, g: usize, gs: usize, o: usize, os: usize, n: i32): void {
  let a00 = v128.load(o), a01 = v128.load(o, 16);
  let a10 = v128.load(o + os), a11 = v128.load(o + os, 16);
  let a20 = v128.load(o + 2 * os), a21 = v128.load(o + 2 * os, 16);
  let a30 = v128.load(o + 3 * os), a31 = v128.load(o + 3 * os, 16);
  for (let p = 0; p < n; p++) {
    const b0 = v128.load(g), b1 = v128.load(g, 16);
    const x0 = v128.load32_splat(x);
    const x1 = v128.load32_splat(x + rb);
    const x2 = v128.load32_splat(x + 2 * rb);
    const x3 = v128.load32_splat(x + 3 * rb);
    a00 = madd(a00, x0, b0); a01 = madd(a01, x0, b1);
    a10 = madd(a10, x1, b0); a11 = madd(a11, x1, b1);
    a20 = madd(a20, x2, b0); a21 = madd(a21, x2, b1);
    a30 = madd(a30, x3, b0); a31 = madd(a31, x3, b1);
    g += gs; x += 4;
  }
  v128.store(o, a00); v128.store(o, a01, 16);
  v128.store(o + os, a10); v128.store(o + os, a11, 16);
  v128.store(o + 2 * os, a20); v128.store(o + 2 * os, a21, 16);
  v128.store(o + 3 * os, a30); v128.store(o + 3 * os, a31, 16);
}

// 4 channels x 4 outputs.
@inline function k4x4(x: usize, rb: usize, g: usize, gs: usize, o: usize, os: usize, n: i32): void {
  let a0 = v128.load(o), a1 = v128.load(o + os), a2 = v128.load(o + 2 * os), a3 = v128.load(o + 3 * os);
  for (let p = 0; p < n; p++) {
    const b = v128.load(g);
    a0 = madd(a0, v128.load32_splat(x), b);
    a1 = madd(a1, v128.load32_splat(x + rb), b);
    a2 = madd(a2, v128.load32_splat(x + 2 * rb), b);
    a3 = madd(a3, v128.load32_splat(x + 3 * rb), b);
    g += gs; x += 4;
  }
  v128.store(o, a0); v128.store(o + os, a1); v128.store(o + 2 * os, a2); v128.store(o + 3 * os, a3);
}

// 1 channel x 8, 1 x 4 and 1 x 1 outputs (the remainders).
@inline function k1x8(x: usize, g: usize, gs: usize, o: usize, n: i32): void {
  let a0 = v128.load(o), a1 = v128.load(o, 16);
  for (let p = 0; p < n; p++) {
    const xv = v128.load32_splat(x);
    a0 = madd(a0, xv, v128.load(g)); a1 = madd(a1, xv, v128.load(g, 16));
    g += gs; x += 4;
  }
  v128.store(o, a0); v128.store(o, a1, 16);
}

@inline function k1x4(x: usize, g: usize, gs: usize, o: usize, n: i32): void {
  let a = v128.load(o);
  for (let p = 0; p < n; p++) {
    a = madd(a, v128.load32_splat(x), v128.load(g));
    g += gs; x += 4;
  }
  v128.store(o, a);
}

@inline function k1x1(x: usize, g: usize, gs: usize, o: usize, n: i32): void {
  let a = load<f32>(o);
  for (let p = 0; p < n; p++) {
    a = a + load<f32>(x) * load<f32>(g);
    g += gs; x += 4;
  }
  store<f32>(o, a);
}

// The products of channels [c, c + rows) of tap t over positions [p, p + n), every output.
function block(x: usize, rb: usize, g: usize, gs: usize, o: usize, os: usize, rows: i32, co: i32, n: i32): void {
  if (rows == 4) {
    let j = 0;
    for (; j + 8 <= co; j += 8) k4x8(x, rb, g + (<usize>j << 2), gs, o + (<usize>j << 2), os, n);
    if (j + 4 <= co) { k4x4(x, rb, g + (<usize>j << 2), gs, o + (<usize>j << 2), os, n); j += 4; }
    for (; j < co; j++)
      for (let r = 0; r < 4; r++) k1x1(x + <usize>r * rb, g + (<usize>j << 2), gs, o + <usize>r * os + (<usize>j << 2), n);
    return;
  }
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * rb, or = o + <usize>r * os;
    let j = 0;
    for (; j + 8 <= co; j += 8) k1x8(xr, g + (<usize>j << 2), gs, or + (<usize>j << 2), n);
    if (j + 4 <= co) { k1x4(xr, g + (<usize>j << 2), gs, or + (<usize>j << 2), n); j += 4; }
    for (; j < co; j++) k1x1(xr, g + (<usize>j << 2), gs, or + (<usize>j << 2), n);
  }
}

/**
 * Units [u0, u1) of the tap products, a unit being (tap t, channels 4b .. 4b+3): t = u / ceil(ci/4).
 * `offs` holds the k*k tap offsets (i32). `dw` is [taps, ci, co] and accumulates.
 */
export function tapProducts(x: usize, g: usize, dw: usize, offs: usize, ci: i32, co: i32, len: i32,
                            u0: i32, u1: i32, chunk: i32): void {
  const blocks = (ci + 3) >> 2;
  const rb = <usize>len << 2;
  const gs = <usize>co << 2;
  for (let p = 0; p < len; p += chunk) {
    const n = min(chunk, len - p);
    for (let u = u0; u < u1; u++) {
      const t = u / blocks;
      const c = (u % blocks) << 2;
      const off = load<i32>(offs + (<usize>t << 2));
      const xa = x + ((<usize>c * <usize>len + <usize>off + <usize>p) << 2);
      const o = dw + (((<usize>t * <usize>ci + <usize>c) * <usize>co) << 2);
      block(xa, rb, g + ((<usize>p * <usize>co) << 2), gs, o, gs, min(4, ci - c), co, n);
    }
  }
}

/** db[o] += sum over p of g[p*co + o], ascending p (XNNPACK's ones x g product, same bytes). */
export function columnSums(g: usize, db: usize, co: i32, len: i32): void {
  const gs = <usize>co << 2;
  let j = 0;
  for (; j + 4 <= co; j += 4) {
    let a = v128.load(db + (<usize>j << 2));
    let gp = g + (<usize>j << 2);
    for (let p = 0; p < len; p++) { a = f32x4.add(a, v128.load(gp)); gp += gs; }
    v128.store(db + (<usize>j << 2), a);
  }
  for (; j < co; j++) {
    let a = load<f32>(db + (<usize>j << 2));
    let gp = g + (<usize>j << 2);
    for (let p = 0; p < len; p++) { a = a + load<f32>(gp); gp += gs; }
    store<f32>(db + (<usize>j << 2), a);
  }
}
