/**
 * Probe preparation (plain JavaScript arrays; no tensors).
 */

/** A complex `N x N` probe, row-major. */
export interface ProbeArrays {
  readonly re: Float32Array;
  readonly im: Float32Array;
  readonly N: number;
}

/** Distance of pixel `(i, j)` from the centre, upstream's convention (centre at `N/2 - 0.5`). */
function radius(i: number, j: number, n: number): number {
  const y = i - Math.floor(n / 2) + 0.5;
  const x = j - Math.floor(n / 2) + 0.5;
  return Math.sqrt(x * x + y * y);
}

/**
 * Upstream's probe normalisation (`ptycho.probe.set_probe_guess`): the probe is divided by
 * `probeScale * mean(|mask * probe|)`, where `mask` is the hard disk `d < floor(N/4)` and the mean
 * runs over all `N x N` pixels. Returns the normalised probe and the divisor.
 */
export function normalizeProbe(
  probe: ProbeArrays,
  probeScale: number,
): ProbeArrays & { readonly norm: number } {
  const n = probe.N;
  checkProbe(probe);
  const limit = Math.floor(n / 4);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (radius(i, j, n) < limit) {
        const k = i * n + j;
        sum += Math.hypot(probe.re[k] as number, probe.im[k] as number);
      }
    }
  }
  const norm = (probeScale * sum) / (n * n);
  if (!(norm > 0) || !Number.isFinite(norm)) {
    throw new Error(
      `probe: the probe is zero (or not finite) inside the central disk of radius N/4 = ${limit} px, so it cannot be normalised; check probeGuess.`,
    );
  }
  const re = new Float32Array(n * n);
  const im = new Float32Array(n * n);
  for (let k = 0; k < n * n; k++) {
    re[k] = (probe.re[k] as number) / norm;
    im[k] = (probe.im[k] as number) / norm;
  }
  return { re, im, N: n, norm };
}

export function checkProbe(probe: ProbeArrays): void {
  const n = probe.N;
  if (!Number.isInteger(n) || n <= 0 || probe.re.length !== n * n || probe.im.length !== n * n) {
    throw new Error(
      `probe: expected re and im of length N*N = ${n * n} (N = ${n}), got ${probe.re.length} and ${probe.im.length}.`,
    );
  }
}

/**
 * Soft circular probe mask: the disk `d < diameter/2` (default diameter `N/2`) blurred by a Gaussian
 * of standard deviation `sigma` pixels (truncated at 4 sigma, zero outside the image), values in
 * [0, 1]. Row-major `N x N`.
 */
export function softProbeMask(n: number, sigma: number, diameter: number | null): Float32Array {
  const r = (diameter ?? n / 2) / 2;
  const disk = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) disk[i * n + j] = radius(i, j, n) < r ? 1 : 0;
  }
  if (!(sigma > 0)) return disk;
  const kernel = gaussian1d(sigma, Math.max(1, Math.ceil(4 * sigma)));
  return separableFilter(separableFilter(disk, n, kernel, 0), n, kernel, 1);
}

/** Normalised 1-D Gaussian weights for offsets `-radius..radius`. */
export function gaussian1d(sigma: number, radiusPx: number): Float32Array {
  const w = new Float32Array(2 * radiusPx + 1);
  let sum = 0;
  for (let k = -radiusPx; k <= radiusPx; k++) {
    const v = Math.exp(-(k * k) / (2 * sigma * sigma));
    w[k + radiusPx] = v;
    sum += v;
  }
  for (let k = 0; k < w.length; k++) w[k] = (w[k] as number) / sum;
  return w;
}

function separableFilter(src: Float32Array, n: number, kernel: Float32Array, axis: 0 | 1): Float32Array {
  const r = (kernel.length - 1) / 2;
  const out = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let k = -r; k <= r; k++) {
        const ii = axis === 0 ? i + k : i;
        const jj = axis === 1 ? j + k : j;
        if (ii >= 0 && ii < n && jj >= 0 && jj < n)
          acc += (kernel[k + r] as number) * (src[ii * n + jj] as number);
      }
      out[i * n + j] = acc;
    }
  }
  return out;
}
