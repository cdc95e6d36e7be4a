/**
 * The physics of the dataset simulator: a smooth random object, a defocused soft-edged probe, a
 * jittered raster scan, and far-field diffraction with Poisson noise. Pure functions of resolved
 * parameters and seeded generators; `simulate.ts` assembles them into contract arrays.
 */
import { Fft2d } from "./simulate-fft.ts";
import { Random } from "./simulate-random.ts";

/** What the physics needs; `SimulationParameters` in `simulate.ts` extends it. */
export interface PhysicsParameters {
  readonly N: number;
  readonly positions: number;
  readonly step: number;
  readonly jitter: number;
  readonly nphotons: number;
  readonly seed: number;
  readonly probeDiameter: number;
  readonly defocus: number;
  readonly noise: boolean;
  /** The object's amplitude spans [amplitudeMin, 1]. */
  readonly amplitudeMin: number;
}

/** Independent random streams of one seed, so that e.g. nphotons never changes the object. */
export const STREAM = { object: 1, positions: 2, noise: 3 } as const;

/** The raster and the object size that holds it. */
export interface ScanLayout {
  readonly columns: number;
  readonly rows: number;
  /** Largest jitter offset in pixels, each axis: jitter * step. */
  readonly jitterMax: number;
  /** Pixels of object beyond the outermost patch on every side. */
  readonly margin: number;
  /** Object height H and width W. */
  readonly height: number;
  readonly width: number;
}

/**
 * A raster of `columns = ceil(sqrt(M))` by `rows = ceil(M / columns)`; the object is the raster's
 * extent (plus jitter) plus N plus a margin of ceil(N/8) pixels on each side.
 */
export function scanLayout(p: Pick<PhysicsParameters, "N" | "positions" | "step" | "jitter">): ScanLayout {
  const columns = Math.ceil(Math.sqrt(p.positions));
  const rows = Math.ceil(p.positions / columns);
  const jitterMax = p.jitter * p.step;
  const margin = Math.ceil(p.N / 8);
  const extent = (count: number) => 2 * margin + p.N + Math.ceil((count - 1) * p.step + 2 * jitterMax);
  return { columns, rows, jitterMax, margin, height: extent(rows), width: extent(columns) };
}

/** The pixel a coordinate rounds to: half-way values round up (`floor(v + 0.5)`). */
export function roundCoordinate(value: number): number {
  return Math.floor(value + 0.5);
}

/**
 * Scan positions (patch centres, pixels of the object) in raster order: row by row from the top,
 * left to right in each row. Each is a raster point plus a uniform offset in [-jitterMax, jitterMax]
 * per axis.
 */
export function scanPositions(
  p: Pick<PhysicsParameters, "N" | "positions" | "step" | "seed">,
  layout: ScanLayout,
): { x: Float64Array; y: Float64Array } {
  const random = new Random(p.seed, STREAM.positions);
  const x = new Float64Array(p.positions);
  const y = new Float64Array(p.positions);
  const origin = layout.margin + p.N / 2 + layout.jitterMax;
  for (let m = 0; m < p.positions; m++) {
    const row = Math.floor(m / layout.columns);
    const column = m % layout.columns;
    x[m] = origin + column * p.step + (2 * random.uniform() - 1) * layout.jitterMax;
    y[m] = origin + row * p.step + (2 * random.uniform() - 1) * layout.jitterMax;
  }
  return { x, y };
}

/** Gaussian blur along rows (`stride` 1) or columns (`stride` width), edges clamped. */
function blurAxis(
  source: Float64Array,
  target: Float64Array,
  height: number,
  width: number,
  kernel: Float64Array,
  alongRows: boolean,
): void {
  const radius = (kernel.length - 1) / 2;
  const lines = alongRows ? height : width;
  const length = alongRows ? width : height;
  const lineStride = alongRows ? width : 1;
  const stride = alongRows ? 1 : width;
  for (let line = 0; line < lines; line++) {
    const base = line * lineStride;
    for (let i = 0; i < length; i++) {
      let sum = 0;
      for (let k = -radius; k <= radius; k++) {
        const j = Math.min(length - 1, Math.max(0, i + k));
        sum += kernel[k + radius]! * source[base + j * stride]!;
      }
      target[base + i * stride] = sum;
    }
  }
}

/** Seeded white noise, low-pass filtered by a Gaussian of `sigma` pixels, rescaled to [low, high]. */
function smoothField(
  random: Random,
  height: number,
  width: number,
  sigma: number,
  low: number,
  high: number,
): Float64Array {
  const noise = new Float64Array(height * width);
  for (let i = 0; i < noise.length; i++) noise[i] = random.normal();
  const radius = Math.ceil(3 * sigma);
  const kernel = new Float64Array(2 * radius + 1);
  for (let k = -radius; k <= radius; k++) kernel[k + radius] = Math.exp(-(k * k) / (2 * sigma * sigma));
  const scratch = new Float64Array(noise.length);
  blurAxis(noise, scratch, height, width, kernel, true);
  blurAxis(scratch, noise, height, width, kernel, false);
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of noise) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const range = max - min;
  for (let i = 0; i < noise.length; i++) {
    noise[i] = range > 0 ? low + ((noise[i]! - min) / range) * (high - low) : (low + high) / 2;
  }
  return noise;
}

/** Feature size of the object: the Gaussian's sigma in pixels. */
export function objectSmoothing(N: number): number {
  return Math.max(2, N / 16);
}

/**
 * The complex object, (H, W) interleaved complex64: amplitude in [amplitudeMin, 1] and phase in [-1, 1] rad,
 * each a smoothed seeded noise field rescaled to exactly that range.
 */
export function simulateObject(
  p: Pick<PhysicsParameters, "N" | "seed" | "amplitudeMin">,
  layout: ScanLayout,
): Float32Array {
  const random = new Random(p.seed, STREAM.object);
  const { height, width } = layout;
  const sigma = objectSmoothing(p.N);
  const amplitude = smoothField(random, height, width, sigma, p.amplitudeMin, 1);
  const phase = smoothField(random, height, width, sigma, -1, 1);
  const object = new Float32Array(2 * height * width);
  for (let i = 0; i < amplitude.length; i++) {
    object[2 * i] = amplitude[i]! * Math.cos(phase[i]!);
    object[2 * i + 1] = amplitude[i]! * Math.sin(phase[i]!);
  }
  return object;
}

/** Width of the probe's soft edge (the tanh scale), in pixels. */
export function probeEdgeWidth(probeDiameter: number): number {
  return Math.max(1, probeDiameter / 32);
}

/**
 * The probe, (N, N) interleaved complex64, centred on pixel (N/2, N/2): a disk of diameter D with a
 * tanh edge, amplitude 0.5 * (1 - tanh((r - D/2) / w)), times the defocus phase
 * exp(i * defocus * (r / (D/2))^2): a curved wavefront, as a beam focused before or after the
 * sample. Normalised to a peak amplitude of 1.
 */
export function simulateProbe(p: Pick<PhysicsParameters, "N" | "probeDiameter" | "defocus">): Float32Array {
  const { N } = p;
  const radius = p.probeDiameter / 2;
  const edge = probeEdgeWidth(p.probeDiameter);
  const amplitude = new Float64Array(N * N);
  let peak = 0;
  for (let row = 0; row < N; row++) {
    for (let column = 0; column < N; column++) {
      const r = Math.hypot(row - N / 2, column - N / 2);
      const a = 0.5 * (1 - Math.tanh((r - radius) / edge));
      amplitude[row * N + column] = a;
      if (a > peak) peak = a;
    }
  }
  const probe = new Float32Array(2 * N * N);
  for (let row = 0; row < N; row++) {
    for (let column = 0; column < N; column++) {
      const i = row * N + column;
      const r = Math.hypot(row - N / 2, column - N / 2);
      const phase = p.defocus * (r / radius) ** 2;
      const a = amplitude[i]! / peak;
      probe[2 * i] = a * Math.cos(phase);
      probe[2 * i + 1] = a * Math.sin(phase);
    }
  }
  return probe;
}

/** The result of the forward model. */
export interface Diffraction {
  /** (M, N, N) amplitudes sqrt(counts) * amplitudeScale, float32. */
  readonly amplitudes: Float32Array;
  /** (M, N, N) interleaved complex64: the object patches. */
  readonly patches: Float32Array;
  /** The power of two the amplitudes were multiplied by, so that the largest is at most 1. */
  readonly amplitudeScale: number;
  /** The factor from |FFT|^2 to expected counts: nphotons / mean total of |FFT|^2 per pattern. */
  readonly countScale: number;
}

/** The smallest power of two that is >= value (value > 0). */
function powerOfTwoAtLeast(value: number): number {
  let power = 1;
  while (power < value) power *= 2;
  while (power / 2 >= value) power /= 2;
  return power;
}

/**
 * For each position: patch = object[cy - N/2 : cy + N/2, cx - N/2 : cx + N/2] with cx, cy the
 * rounded coordinates; exit wave = probe * patch; intensity = |fftshift(FFT2(exit))|^2, scaled so
 * that the mean total over the patterns is nphotons; counts = Poisson(intensity) (or the intensity
 * itself without noise); amplitude = sqrt(counts) times one power-of-two factor for the dataset.
 */
export function diffract(
  p: PhysicsParameters,
  layout: ScanLayout,
  object: Float32Array,
  probe: Float32Array,
  x: Float64Array,
  y: Float64Array,
): Diffraction {
  const { N, positions: M } = p;
  const NN = N * N;
  const half = N / 2;
  const width = layout.width;
  const amplitudes = new Float32Array(M * NN);
  const patches = new Float32Array(2 * M * NN);
  const fft = new Fft2d(N);
  const re = new Float64Array(NN);
  const im = new Float64Array(NN);
  let total = 0;
  for (let m = 0; m < M; m++) {
    const top = roundCoordinate(y[m]!) - half;
    const left = roundCoordinate(x[m]!) - half;
    const patchBase = 2 * m * NN;
    for (let row = 0; row < N; row++) {
      const objectRow = 2 * ((top + row) * width + left);
      for (let column = 0; column < N; column++) {
        const i = row * N + column;
        const or = object[objectRow + 2 * column]!;
        const oi = object[objectRow + 2 * column + 1]!;
        patches[patchBase + 2 * i] = or;
        patches[patchBase + 2 * i + 1] = oi;
        const pr = probe[2 * i]!;
        const pi = probe[2 * i + 1]!;
        // (-1)^(row + column) moves the zero frequency to the centre: fftshift for even N.
        const sign = (row + column) & 1 ? -1 : 1;
        re[i] = sign * (pr * or - pi * oi);
        im[i] = sign * (pr * oi + pi * or);
      }
    }
    fft.forward(re, im);
    const base = m * NN;
    for (let i = 0; i < NN; i++) {
      const intensity = re[i]! * re[i]! + im[i]! * im[i]!;
      amplitudes[base + i] = intensity;
      total += intensity;
    }
  }
  const meanTotal = total / M;
  const countScale = meanTotal > 0 ? p.nphotons / meanTotal : 0;
  const random = new Random(p.seed, STREAM.noise);
  let largest = 0;
  for (let i = 0; i < amplitudes.length; i++) {
    const expected = amplitudes[i]! * countScale;
    const counts = p.noise ? random.poisson(expected) : expected;
    const amplitude = Math.fround(Math.sqrt(counts));
    amplitudes[i] = amplitude;
    if (amplitude > largest) largest = amplitude;
  }
  // A power of two keeps amplitudes exact: (amplitude / amplitudeScale)^2 recovers the counts.
  const amplitudeScale = largest > 0 ? 1 / powerOfTwoAtLeast(largest) : 1;
  for (let i = 0; i < amplitudes.length; i++) amplitudes[i] = amplitudes[i]! * amplitudeScale;
  return { amplitudes, patches, amplitudeScale, countScale };
}
