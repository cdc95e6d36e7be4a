// Image quality of a reconstruction against ground truth: PSNR and SSIM over a region.

/** Peak signal-to-noise ratio in dB, with the peak taken as the reference's range over the region. */
export function psnr(test: ArrayLike<number>, reference: ArrayLike<number>, mask: ArrayLike<number>): number {
  let mse = 0;
  let n = 0;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < reference.length; i++) {
    if (!mask[i]) continue;
    const d = test[i]! - reference[i]!;
    mse += d * d;
    n++;
    lo = Math.min(lo, reference[i]!);
    hi = Math.max(hi, reference[i]!);
  }
  mse /= Math.max(n, 1);
  const range = hi - lo || 1;
  return 10 * Math.log10((range * range) / Math.max(mse, 1e-20));
}

/**
 * Mean structural similarity (Wang et al. 2004) over 7x7 windows fully inside the region, with the
 * dynamic range of the reference (C1 = (0.01 L)^2, C2 = (0.03 L)^2).
 */
export function ssim(
  test: ArrayLike<number>,
  reference: ArrayLike<number>,
  mask: ArrayLike<number>,
  width: number,
  height: number,
  window = 7,
): number {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < reference.length; i++) {
    if (!mask[i]) continue;
    lo = Math.min(lo, reference[i]!);
    hi = Math.max(hi, reference[i]!);
  }
  const L = hi - lo || 1;
  const c1 = (0.01 * L) ** 2;
  const c2 = (0.03 * L) ** 2;
  let total = 0;
  let windows = 0;
  const area = window * window;
  for (let y = 0; y + window <= height; y += 2) {
    for (let x = 0; x + window <= width; x += 2) {
      let inside = true;
      let mx = 0;
      let my = 0;
      for (let j = 0; j < window && inside; j++) {
        for (let i = 0; i < window; i++) {
          const k = (y + j) * width + x + i;
          if (!mask[k]) {
            inside = false;
            break;
          }
          mx += test[k]!;
          my += reference[k]!;
        }
      }
      if (!inside) continue;
      mx /= area;
      my /= area;
      let vx = 0;
      let vy = 0;
      let cov = 0;
      for (let j = 0; j < window; j++) {
        for (let i = 0; i < window; i++) {
          const k = (y + j) * width + x + i;
          const a = test[k]! - mx;
          const b = reference[k]! - my;
          vx += a * a;
          vy += b * b;
          cov += a * b;
        }
      }
      vx /= area - 1;
      vy /= area - 1;
      cov /= area - 1;
      total += ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
      windows++;
    }
  }
  return windows === 0 ? Number.NaN : total / windows;
}
