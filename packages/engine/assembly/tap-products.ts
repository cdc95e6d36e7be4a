// Filter-gradient tap products for TrainkitConvBackward (src/tf/internal/conv-backward-kernel.ts),
// in AssemblyScript, compiled to 128-bit WebAssembly SIMD by `pnpm gen` (scripts/wasm.ts) into
// src/tf/internal/tap-products-wasm.ts; a test checks that the embedded bytes are this file's.
// For a stride-1 "same" k x k convolution with input x [b, h, w, ci] and output gradient
// g [b, h, w, co] (both NHWC, read in place: no transpose, no padding), for every tap (i, j) and
// input channel c:
//   dw[i][j][c][o] += sum over positions (n, y, v) of x[n][y + i - r][v + j - r][c] * g[n][y][v][o]
// over the positions whose input pixel lies inside the image, in ascending (n, y, v), one multiply
// and one add per term (no fused multiply-add), from the value already in dw. That is the order and
// rounding of XNNPACK's f32 GEMM over the zero-padded operands of the op-by-op path: the terms left
// out are the products with its zero padding, which leave every sum as it is, so the bytes are the
// same. The rows run in chunks so a chunk of x and g stays in cache for every tap and channel.

@inline function madd(acc: v128, a: v128, b: v128): v128 {
  return f32x4.add(acc, f32x4.mul(a, b));
}

// Each kernel runs over `nr` rows of `n` positions: x and g advance by xs and gs bytes a position
// and by xr and gr bytes a row. The channels of x are adjacent (4 bytes apart); outputs of dw are
// os bytes a channel apart.

// 4 channels x 8 outputs.
@inline function k4x8(x: usize, xs: usize, xr: usize, g: usize, gs: usize, gr: usize, o: usize, os: usize,
                      nr: i32, n: i32): void {
  let a00 = v128.load(o), a01 = v128.load(o, 16);
  let a10 = v128.load(o + os), a11 = v128.load(o + os, 16);
  let a20 = v128.load(o + 2 * os), a21 = v128.load(o + 2 * os, 16);
  let a30 = v128.load(o + 3 * os), a31 = v128.load(o + 3 * os, 16);
  for (let r = 0; r < nr; r++) {
    let xp = x, gp = g;
    for (let p = 0; p < n; p++) {
      const b0 = v128.load(gp), b1 = v128.load(gp, 16);
      const x0 = v128.load32_splat(xp);
      const x1 = v128.load32_splat(xp, 4);
      const x2 = v128.load32_splat(xp, 8);
      const x3 = v128.load32_splat(xp, 12);
      a00 = madd(a00, x0, b0); a01 = madd(a01, x0, b1);
      a10 = madd(a10, x1, b0); a11 = madd(a11, x1, b1);
      a20 = madd(a20, x2, b0); a21 = madd(a21, x2, b1);
      a30 = madd(a30, x3, b0); a31 = madd(a31, x3, b1);
      gp += gs; xp += xs;
    }
    x += xr; g += gr;
  }
  v128.store(o, a00); v128.store(o, a01, 16);
  v128.store(o + os, a10); v128.store(o + os, a11, 16);
  v128.store(o + 2 * os, a20); v128.store(o + 2 * os, a21, 16);
  v128.store(o + 3 * os, a30); v128.store(o + 3 * os, a31, 16);
}

// 4 channels x 4 outputs.
@inline function k4x4(x: usize, xs: usize, xr: usize, g: usize, gs: usize, gr: usize, o: usize, os: usize,
                      nr: i32, n: i32): void {
  let a0 = v128.load(o), a1 = v128.load(o + os), a2 = v128.load(o + 2 * os), a3 = v128.load(o + 3 * os);
  for (let r = 0; r < nr; r++) {
    let xp = x, gp = g;
    for (let p = 0; p < n; p++) {
      const b = v128.load(gp);
      a0 = madd(a0, v128.load32_splat(xp), b);
      a1 = madd(a1, v128.load32_splat(xp, 4), b);
      a2 = madd(a2, v128.load32_splat(xp, 8), b);
      a3 = madd(a3, v128.load32_splat(xp, 12), b);
      gp += gs; xp += xs;
    }
    x += xr; g += gr;
  }
  v128.store(o, a0); v128.store(o + os, a1); v128.store(o + 2 * os, a2); v128.store(o + 3 * os, a3);
}

// 4 channels x 1 output (the remainder columns): the channels of x side by side in one vector.
@inline function k4x1(x: usize, xs: usize, xr: usize, g: usize, gs: usize, gr: usize, o: usize, os: usize,
                      nr: i32, n: i32): void {
  let a = f32x4.splat(load<f32>(o));
  a = f32x4.replace_lane(a, 1, load<f32>(o + os));
  a = f32x4.replace_lane(a, 2, load<f32>(o + 2 * os));
  a = f32x4.replace_lane(a, 3, load<f32>(o + 3 * os));
  for (let r = 0; r < nr; r++) {
    let xp = x, gp = g;
    for (let p = 0; p < n; p++) {
      a = madd(a, v128.load(xp), v128.load32_splat(gp));
      gp += gs; xp += xs;
    }
    x += xr; g += gr;
  }
  store<f32>(o, f32x4.extract_lane(a, 0));
  store<f32>(o + os, f32x4.extract_lane(a, 1));
  store<f32>(o + 2 * os, f32x4.extract_lane(a, 2));
  store<f32>(o + 3 * os, f32x4.extract_lane(a, 3));
}

// 1 channel x 8, 1 x 4 and 1 x 1 outputs (the remainders).
@inline function k1x8(x: usize, xs: usize, xr: usize, g: usize, gs: usize, gr: usize, o: usize, nr: i32, n: i32): void {
  let a0 = v128.load(o), a1 = v128.load(o, 16);
  for (let r = 0; r < nr; r++) {
    let xp = x, gp = g;
    for (let p = 0; p < n; p++) {
      const xv = v128.load32_splat(xp);
      a0 = madd(a0, xv, v128.load(gp)); a1 = madd(a1, xv, v128.load(gp, 16));
      gp += gs; xp += xs;
    }
    x += xr; g += gr;
  }
  v128.store(o, a0); v128.store(o, a1, 16);
}

@inline function k1x4(x: usize, xs: usize, xr: usize, g: usize, gs: usize, gr: usize, o: usize, nr: i32, n: i32): void {
  let a = v128.load(o);
  for (let r = 0; r < nr; r++) {
    let xp = x, gp = g;
    for (let p = 0; p < n; p++) {
      a = madd(a, v128.load32_splat(xp), v128.load(gp));
      gp += gs; xp += xs;
    }
    x += xr; g += gr;
  }
  v128.store(o, a);
}

@inline function k1x1(x: usize, xs: usize, xr: usize, g: usize, gs: usize, gr: usize, o: usize, nr: i32, n: i32): void {
  let a = load<f32>(o);
  for (let r = 0; r < nr; r++) {
    let xp = x, gp = g;
    for (let p = 0; p < n; p++) {
      a = a + load<f32>(xp) * load<f32>(gp);
      gp += gs; xp += xs;
    }
    x += xr; g += gr;
  }
  store<f32>(o, a);
}

// The products of channels [c, c + rows) of one tap over nr rows of n positions, every output.
function block(x: usize, xs: usize, xr: usize, g: usize, gs: usize, gr: usize, o: usize,
               rows: i32, co: i32, nr: i32, n: i32): void {
  const os = gs;
  if (rows == 4) {
    let j = 0;
    for (; j + 8 <= co; j += 8) k4x8(x, xs, xr, g + (<usize>j << 2), gs, gr, o + (<usize>j << 2), os, nr, n);
    if (j + 4 <= co) { k4x4(x, xs, xr, g + (<usize>j << 2), gs, gr, o + (<usize>j << 2), os, nr, n); j += 4; }
    for (; j < co; j++) k4x1(x, xs, xr, g + (<usize>j << 2), gs, gr, o + (<usize>j << 2), os, nr, n);
    return;
  }
  for (let c = 0; c < rows; c++) {
    const xc = x + (<usize>c << 2), oc = o + <usize>c * os;
    let j = 0;
    for (; j + 8 <= co; j += 8) k1x8(xc, xs, xr, g + (<usize>j << 2), gs, gr, oc + (<usize>j << 2), nr, n);
    if (j + 4 <= co) { k1x4(xc, xs, xr, g + (<usize>j << 2), gs, gr, oc + (<usize>j << 2), nr, n); j += 4; }
    for (; j < co; j++) k1x1(xc, xs, xr, g + (<usize>j << 2), gs, gr, oc + (<usize>j << 2), nr, n);
  }
}

/**
 * Units [u0, u1) of the tap products, a unit being (tap t = i*k + j, channels 4q .. 4q+3):
 * t = u / ceil(ci/4). `dw` is [k, k, ci, co] and accumulates. Chunks are whole rows of one image,
 * about `chunk` positions each.
 */
export function tapProducts(x: usize, g: usize, dw: usize, ci: i32, co: i32, k: i32,
                            b: i32, h: i32, w: i32, u0: i32, u1: i32, chunk: i32): void {
  const blocks = (ci + 3) >> 2;
  const r = (k - 1) >> 1;
  const xs = <usize>ci << 2, gs = <usize>co << 2;
  const xr = <usize>w * xs, gr = <usize>w * gs;
  const rowsPerChunk = max(1, chunk / w);
  for (let n = 0; n < b; n++) {
    for (let y0 = 0; y0 < h; y0 += rowsPerChunk) {
      const y1 = min(y0 + rowsPerChunk, h);
      for (let u = u0; u < u1; u++) {
        const t = u / blocks;
        const c = (u % blocks) << 2;
        const di = t / k - r, dj = t % k - r;
        // Rows and columns of g whose input pixel (y + di, v + dj) is inside the image.
        const ya = max(y0, -di), yb = min(y1, h - di);
        if (ya >= yb) continue;
        const va = max(0, -dj), vb = min(w, w - dj);
        const gp = g + <usize>((n * h + ya) * w + va) * gs;
        const xp = x + <usize>((n * h + ya + di) * w + va + dj) * xs + (<usize>c << 2);
        const o = dw + ((<usize>(t * ci + c) * <usize>co) << 2);
        block(xp, xs, xr, gp, gs, gr, o, min(4, ci - c), co, yb - ya, vb - va);
      }
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
