import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { checkDataContract, loadNpz, type NdArray, readNphotons, readNpzHeaders } from "@trainkit/data";
import { describe, expect, it } from "vitest";
import {
  isSimulationError,
  resolveSimulationParameters,
  type SimulatedDataset,
  type SimulateOptions,
  simulateDataset,
  splitSimulatedDataset,
  writeSimulatedDataset,
} from "../src/index.ts";
import { createFftPlan, Fft2d } from "../src/internal/simulate-fft.ts";
import { Random } from "../src/internal/simulate-random.ts";
import { caught, caughtSync, codeOf, HAS_NUMPY, messageOf, python, tempDir } from "./helpers.ts";

const tmp = tempDir();
let counter = 0;
/** A new empty folder under the test file's temporary folder. */
function freshDir(): string {
  const dir = join(tmp, `case-${counter++}`);
  mkdirSync(dir);
  return dir;
}

/** Small and fast: N = 16, 12 positions. */
const SMALL: SimulateOptions = { N: 16, positions: 12 };

/** The counts behind the stored amplitudes: (diffraction / amplitude_scale)^2. */
function countsOf(dataset: SimulatedDataset): Float64Array {
  const scale = dataset.metadata.physics_parameters.amplitude_scale;
  return Float64Array.from(dataset.arrays.diffraction.data, (a) => (a / scale) ** 2);
}

/** Total counts of each pattern. */
function totalsOf(dataset: SimulatedDataset): number[] {
  const counts = countsOf(dataset);
  const [M = 0, N = 0] = dataset.arrays.diffraction.shape;
  const totals: number[] = [];
  for (let m = 0; m < M; m++) {
    let total = 0;
    for (let i = m * N * N; i < (m + 1) * N * N; i++) total += counts[i]!;
    totals.push(total);
  }
  return totals;
}

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** The textbook DFT, O(n^2): X[k] = sum_j x[j] exp(-2 pi i j k / n). */
function naiveDft(re: Float64Array, im: Float64Array): [Float64Array, Float64Array] {
  const n = re.length;
  const outRe = new Float64Array(n);
  const outIm = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < n; j++) {
      const angle = (-2 * Math.PI * ((j * k) % n)) / n;
      outRe[k]! += re[j]! * Math.cos(angle) - im[j]! * Math.sin(angle);
      outIm[k]! += re[j]! * Math.sin(angle) + im[j]! * Math.cos(angle);
    }
  }
  return [outRe, outIm];
}

/** |fftshift(DFT2(x))|^2 of an n x n complex array, by the naive DFT along rows then columns. */
function naiveShiftedIntensity(re: Float64Array, im: Float64Array, n: number): Float64Array {
  const rowsRe = new Float64Array(n * n);
  const rowsIm = new Float64Array(n * n);
  for (let r = 0; r < n; r++) {
    const [a, b] = naiveDft(re.slice(r * n, r * n + n), im.slice(r * n, r * n + n));
    rowsRe.set(a, r * n);
    rowsIm.set(b, r * n);
  }
  const intensity = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    const colRe = new Float64Array(n);
    const colIm = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      colRe[r] = rowsRe[r * n + c]!;
      colIm[r] = rowsIm[r * n + c]!;
    }
    const [a, b] = naiveDft(colRe, colIm);
    for (let r = 0; r < n; r++) {
      // fftshift: output (r, c) holds frequency ((r + n/2) mod n, (c + n/2) mod n)
      const sr = (r + n / 2) % n;
      const sc = (c + n / 2) % n;
      intensity[sr * n + sc] = a[r]! ** 2 + b[r]! ** 2;
    }
  }
  return intensity;
}

function randomComplex(n: number, seed: number): [Float64Array, Float64Array] {
  const random = new Random(seed, 99);
  return [
    Float64Array.from({ length: n }, () => random.normal()),
    Float64Array.from({ length: n }, () => random.normal()),
  ];
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

function describeArrays(dataset: SimulatedDataset): Record<string, string> {
  return Object.fromEntries(
    Object.entries(dataset.arrays).map(([key, array]: [string, NdArray]) => [
      key,
      `${array.dtype} (${array.shape.join(", ")})`,
    ]),
  );
}

function asNpz(dataset: SimulatedDataset) {
  const arrays = new Map<string, NdArray>(Object.entries(dataset.arrays));
  arrays.set("_metadata", { dtype: "U", shape: [], data: [JSON.stringify(dataset.metadata)] });
  return { file: "memory.npz", arrays };
}

describe("createFftPlan", () => {
  it("matches the naive DFT for powers of two and other lengths, and inverts", () => {
    for (const n of [1, 2, 3, 4, 5, 7, 8, 12, 16, 18, 30, 64, 100, 128]) {
      const [re, im] = randomComplex(n, n);
      const [expectedRe, expectedIm] = naiveDft(re, im);
      const plan = createFftPlan(n);
      const outRe = re.slice();
      const outIm = im.slice();
      plan.forward(outRe, outIm);
      const tolerance = 1e-12 * n * Math.sqrt(n) + 1e-12;
      expect(maxAbsDifference(outRe, expectedRe), `n = ${n}`).toBeLessThan(tolerance);
      expect(maxAbsDifference(outIm, expectedIm), `n = ${n}`).toBeLessThan(tolerance);
      plan.inverse(outRe, outIm);
      expect(maxAbsDifference(outRe, re), `n = ${n}`).toBeLessThan(1e-12 * n);
      expect(maxAbsDifference(outIm, im), `n = ${n}`).toBeLessThan(1e-12 * n);
    }
  });

  it("refuses a length that is not a positive integer", () => {
    expect(() => createFftPlan(0)).toThrow(RangeError);
    expect(() => createFftPlan(2.5)).toThrow(RangeError);
  });
});

describe("Fft2d", () => {
  it("matches the naive 2-D DFT", () => {
    for (const n of [8, 18]) {
      const [re, im] = randomComplex(n * n, 7);
      // naive, without the shift: undo it by comparing against the shifted naive result re-indexed
      const shifted = naiveShiftedIntensity(re, im, n);
      const outRe = re.slice();
      const outIm = im.slice();
      new Fft2d(n).forward(outRe, outIm);
      const intensity = new Float64Array(n * n);
      for (let r = 0; r < n; r++) {
        for (let c = 0; c < n; c++) {
          const value = outRe[r * n + c]! ** 2 + outIm[r * n + c]! ** 2;
          intensity[((r + n / 2) % n) * n + ((c + n / 2) % n)] = value;
        }
      }
      expect(maxAbsDifference(intensity, shifted)).toBeLessThan(1e-9 * n * n);
    }
  });
});

describe("Random", () => {
  it("repeats its sequence for a seed and stream, and differs across seeds and streams", () => {
    const draw = (seed: number, stream: number) => {
      const random = new Random(seed, stream);
      return Array.from({ length: 4 }, () => random.nextUint32());
    };
    expect(draw(0, 0)).toEqual(draw(0, 0));
    expect(draw(0, 0)).not.toEqual(draw(1, 0));
    expect(draw(0, 0)).not.toEqual(draw(0, 1));
    const random = new Random(5);
    const values = Array.from({ length: 20000 }, () => random.uniform());
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    expect(mean(values)).toBeCloseTo(0.5, 2);
  });

  it("draws Poisson deviates whose mean and variance equal lambda, small and large", () => {
    for (const lambda of [0.3, 4, 9.9, 10, 37, 1e3, 1e6, 1e9]) {
      const random = new Random(3, Math.round(lambda));
      const samples = Array.from({ length: 40000 }, () => random.poisson(lambda));
      expect(samples.every((k) => Number.isInteger(k) && k >= 0)).toBe(true);
      const m = mean(samples);
      const variance = mean(samples.map((k) => (k - m) ** 2));
      // standard errors: sqrt(lambda / n) for the mean, about lambda * sqrt(2 / n) for the variance
      expect(Math.abs(m - lambda), `mean at ${lambda}`).toBeLessThan(5 * Math.sqrt(lambda / samples.length));
      expect(Math.abs(variance / lambda - 1), `variance at ${lambda}`).toBeLessThan(0.05);
    }
    const random = new Random(0);
    expect(random.poisson(0)).toBe(0);
    for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY])
      expect(() => random.poisson(bad)).toThrow(RangeError);
  });
});

describe("resolveSimulationParameters", () => {
  it("fills in the defaults, probeDiameter N/2 and the step", () => {
    expect(resolveSimulationParameters()).toMatchInlineSnapshot(`
      {
        "N": 64,
        "amplitudeMin": 0.5,
        "defocus": 3,
        "jitter": 0.1,
        "noise": true,
        "nphotons": 1000000000,
        "overlap": 0.7,
        "positions": 512,
        "probeDiameter": 32,
        "seed": 0,
        "step": 9.600000000000001,
      }
    `);
    expect(resolveSimulationParameters({ N: 32, overlap: 0.5 })).toMatchObject({
      probeDiameter: 16,
      step: 8,
    });
  });

  it("refuses invalid and unknown options with INVALID_OPTIONS naming the option", () => {
    const bad: unknown[] = [
      { N: 15 },
      { N: 2048 },
      { N: 16.5 },
      { N: "64" },
      { positions: 0 },
      { positions: 2.5 },
      { overlap: 1 },
      { overlap: -0.1 },
      { jitter: 2 },
      { nphotons: 0 },
      { nphotons: Number.NaN },
      { seed: -1 },
      { seed: 1.5 },
      { N: 16, probeDiameter: 1 },
      { N: 16, probeDiameter: 17 },
      { defocus: Number.POSITIVE_INFINITY },
      { noise: "yes" },
      { amplitudeMin: 1 },
      { amplitudeMin: -0.1 },
      { nPhotons: 1e6 },
      { probe_diameter: 8 },
      { colour: "red" },
      { N: 16, positions: 262144, overlap: 0, probeDiameter: 16, jitter: 1 },
      { N: 256, positions: 2000 },
      { N: 16, positions: 1e6, overlap: 0 },
      null,
    ];
    const messages = bad.map((options) => {
      const error = caughtSync(() => resolveSimulationParameters(options as SimulateOptions));
      expect(codeOf(error)).toBe("INVALID_OPTIONS");
      return messageOf(error);
    });
    expect(messages).toMatchInlineSnapshot(`
      [
        "options.N: must be an even integer from 16 to 1024, got 15.",
        "options.N: must be an even integer from 16 to 1024, got 2048.",
        "options.N: must be an even integer from 16 to 1024, got 16.5.",
        "options.N: must be an even integer from 16 to 1024, got "64".",
        "options.positions: must be a positive integer, got 0.",
        "options.positions: must be a positive integer, got 2.5.",
        "options.overlap: must be a fraction in [0, 1) (0 = neighbouring probes just touch), got 1.",
        "options.overlap: must be a fraction in [0, 1) (0 = neighbouring probes just touch), got -0.1.",
        "options.jitter: must be a fraction of the step in [0, 1], got 2.",
        "options.nphotons: must be a positive finite number, got 0.",
        "options.nphotons: must be a positive finite number, got NaN.",
        "options.seed: must be an integer from 0 to 2^53 - 1, got -1.",
        "options.seed: must be an integer from 0 to 2^53 - 1, got 1.5.",
        "options.probeDiameter: must be a number of pixels from 2 to N (16), got 1.",
        "options.probeDiameter: must be a number of pixels from 2 to N (16), got 17.",
        "options.defocus: must be a finite number, got Infinity.",
        "options.noise: must be true or false, got "yes".",
        "options.amplitudeMin: must be a number in [0, 1), got 1.",
        "options.amplitudeMin: must be a number in [0, 1), got -0.1.",
        "options.nPhotons: is not a simulation option, got 1000000. Did you mean "nphotons"?",
        "options.probe_diameter: is not a simulation option, got 8. Did you mean "probeDiameter"?",
        "options.colour: is not a simulation option, got "red". The options are N, positions, overlap, jitter, nphotons, seed, probeDiameter, defocus, noise, amplitudeMin.",
        "options.positions: must keep the object at most 67108864 pixels (here 8228 x 8228), got 262144. Use fewer positions or more overlap.",
        "options.positions: must keep positions x N x N at most 67108864 pixels (here 2000 x 256 x 256 = 131072000), got 2000. Use fewer positions or a smaller N.",
        "options.positions: must keep positions x N x N at most 67108864 pixels (here 1000000 x 16 x 16 = 256000000), got 1000000. Use fewer positions or a smaller N.",
        "options: must be a mapping of setting names to values, got null.",
      ]
    `);
  });

  it("names where a value came from when given an origin", () => {
    const error = caughtSync(() =>
      resolveSimulationParameters({ N: 15 }, (field) =>
        field === "N" ? { kind: "cli", token: "--n 15" } : undefined,
      ),
    );
    expect(messageOf(error)).toMatchInlineSnapshot(
      `"options.N: must be an even integer from 16 to 1024, got 15 (from "--n 15" on the command line)."`,
    );
    expect(isSimulationError(error, "INVALID_OPTIONS") && error.key).toBe("N");
  });
});

describe("simulateDataset", () => {
  it("returns the contract arrays with their shapes and dtypes, and the metadata", () => {
    const dataset = simulateDataset({ ...SMALL, seed: 4 });
    expect(describeArrays(dataset)).toMatchInlineSnapshot(`
      {
        "Y": "c8 (12, 16, 16)",
        "diffraction": "f4 (12, 16, 16)",
        "objectGuess": "c8 (26, 28)",
        "probeGuess": "c8 (16, 16)",
        "scan_index": "i8 (12)",
        "xcoords": "f8 (12)",
        "xcoords_start": "f8 (12)",
        "ycoords": "f8 (12)",
        "ycoords_start": "f8 (12)",
      }
    `);
    expect(dataset.metadata).toMatchInlineSnapshot(`
      {
        "generator": "trainkit-datagen",
        "physics_parameters": {
          "N": 16,
          "amplitude_min": 0.5,
          "amplitude_scale": 0.00006103515625,
          "defocus": 3,
          "jitter": 0.1,
          "nphotons": 1000000000,
          "overlap": 0.7,
          "poisson_noise": true,
          "probe_diameter": 8,
          "step": 2.4000000000000004,
        },
        "seed": 4,
        "split": "all",
        "version": 1,
      }
    `);
  });

  it("passes checkDataContract for training with no errors or warnings", () => {
    const report = checkDataContract(asNpz(simulateDataset(SMALL)), {
      purpose: "train",
      modelType: "supervised",
    });
    expect(report).toEqual({ errors: [], warnings: [] });
  });

  it("gives the same arrays for the same options, and others for another seed", () => {
    const a = simulateDataset(SMALL);
    const b = simulateDataset(SMALL);
    const c = simulateDataset({ ...SMALL, seed: 1 });
    expect(b.arrays).toEqual(a.arrays);
    expect(c.arrays.objectGuess.data).not.toEqual(a.arrays.objectGuess.data);
    expect(c.arrays.xcoords.data).not.toEqual(a.arrays.xcoords.data);
    expect(c.arrays.diffraction.data).not.toEqual(a.arrays.diffraction.data);
  });

  it("keeps the object and positions when only nphotons changes", () => {
    const a = simulateDataset(SMALL);
    const b = simulateDataset({ ...SMALL, nphotons: 1e4 });
    expect(b.arrays.objectGuess).toEqual(a.arrays.objectGuess);
    expect(b.arrays.xcoords).toEqual(a.arrays.xcoords);
    expect(b.arrays.Y).toEqual(a.arrays.Y);
  });

  it("steps the raster by (1 - overlap) * probeDiameter pixels", () => {
    for (const [overlap, step] of [
      [0.5, 4],
      [0.75, 2],
      [0, 8],
    ] as const) {
      const dataset = simulateDataset({ N: 16, positions: 9, probeDiameter: 8, overlap, jitter: 0 });
      const x = [...dataset.arrays.xcoords.data];
      const y = [...dataset.arrays.ycoords.data];
      expect(dataset.parameters.step).toBe(step);
      // a 3 x 3 raster, row by row
      expect([x[1]! - x[0]!, x[2]! - x[1]!, y[3]! - y[0]!, y[6]! - y[3]!]).toEqual([step, step, step, step]);
      expect([y[0], y[1], y[2]]).toEqual([y[0], y[0], y[0]]);
    }
  });

  it("keeps each position within jitter * step of its raster point", () => {
    const options = { N: 16, positions: 100, jitter: 0.3 };
    const raster = simulateDataset({ ...options, jitter: 0 });
    const jittered = simulateDataset(options);
    // the origin moves by jitterMax so that the object holds the jittered scan
    const jitterMax = 0.3 * jittered.parameters.step;
    const offsets = [...jittered.arrays.xcoords.data].map(
      (x, m) => x - raster.arrays.xcoords.data[m]! - jitterMax,
    );
    expect(Math.max(...offsets.map(Math.abs))).toBeLessThanOrEqual(jitterMax);
    expect(Math.max(...offsets.map(Math.abs))).toBeGreaterThan(0.8 * jitterMax);
  });

  it("centres the scan in an object that holds every patch, and Y is the object at the rounded centre", () => {
    const cases: SimulateOptions[] = [
      { ...SMALL, jitter: 0 },
      { N: 16, positions: 30, jitter: 1 },
      { N: 18, positions: 7 },
    ];
    for (const options of cases) {
      const { arrays, parameters } = simulateDataset(options);
      const { N } = parameters;
      const [H = 0, W = 0] = arrays.objectGuess.shape;
      const object = arrays.objectGuess.data;
      const Y = arrays.Y.data;
      const centresX = [...arrays.xcoords.data].map((x) => Math.floor(x + 0.5));
      const centresY = [...arrays.ycoords.data].map((y) => Math.floor(y + 0.5));
      const left = Math.min(...centresX) - N / 2;
      const right = W - (Math.max(...centresX) + N / 2);
      const top = Math.min(...centresY) - N / 2;
      const bottom = H - (Math.max(...centresY) + N / 2);
      expect(Math.min(left, right, top, bottom)).toBeGreaterThanOrEqual(0);
      if (options.jitter === 0) expect(Math.abs(left - right)).toBeLessThanOrEqual(1);
      for (let m = 0; m < parameters.positions; m++) {
        for (let r = 0; r < N; r++) {
          for (let c = 0; c < N; c++) {
            const o = 2 * ((centresY[m]! - N / 2 + r) * W + (centresX[m]! - N / 2 + c));
            const p = 2 * ((m * N + r) * N + c);
            if (Y[p] !== object[o] || Y[p + 1] !== object[o + 1]) {
              throw new Error(`Y[${m}, ${r}, ${c}] is not objectGuess at the rounded centre`);
            }
          }
        }
      }
      expect(arrays.xcoords_start).toEqual(arrays.xcoords);
      expect(arrays.ycoords_start).toEqual(arrays.ycoords);
      expect([...arrays.scan_index.data].every((v) => v === 0n)).toBe(true);
    }
  });

  it.each([
    [undefined, 0.5],
    [0.2, 0.2],
  ])(
    "makes a smooth object with amplitude in [amplitudeMin, 1] and phase in [-1, 1] rad (amplitudeMin %s)",
    (amplitudeMin, low) => {
      const { arrays } = simulateDataset({
        N: 64,
        positions: 16,
        ...(amplitudeMin === undefined ? {} : { amplitudeMin }),
      });
      const [H = 0, W = 0] = arrays.objectGuess.shape;
      const data = arrays.objectGuess.data;
      const amplitude = new Float64Array(H * W);
      const phase = new Float64Array(H * W);
      for (let i = 0; i < H * W; i++) {
        amplitude[i] = Math.hypot(data[2 * i]!, data[2 * i + 1]!);
        phase[i] = Math.atan2(data[2 * i + 1]!, data[2 * i]!);
      }
      const range = (values: Float64Array) =>
        [Math.min(...values), Math.max(...values)].map((v) => Number(v.toFixed(4)));
      expect(range(amplitude)).toEqual([low, 1]);
      expect(range(phase)).toEqual([-1, 1]);
      let step = 0;
      for (let r = 0; r < H; r++)
        for (let c = 1; c < W; c++) step += Math.abs(amplitude[r * W + c]! - amplitude[r * W + c - 1]!);
      // neighbouring pixels differ by a small part of the range (white noise would give ~0.2 of it)
      expect(step / (H * (W - 1)) / (1 - low)).toBeLessThan(0.06);
    },
  );

  it("makes a soft-edged probe of probeDiameter with the defocus phase and a peak amplitude of 1", () => {
    const N = 32;
    const defocus = 2.5;
    const { arrays } = simulateDataset({ N, positions: 1, probeDiameter: 20, defocus });
    const probe = arrays.probeGuess.data;
    const R = 10;
    let peak = 0;
    for (let row = 0; row < N; row++) {
      for (let column = 0; column < N; column++) {
        const i = row * N + column;
        const amplitude = Math.hypot(probe[2 * i]!, probe[2 * i + 1]!);
        const r = Math.hypot(row - N / 2, column - N / 2);
        peak = Math.max(peak, amplitude);
        if (r <= R - 3) {
          expect(amplitude).toBeGreaterThan(0.99);
          const expected = defocus * (r / R) ** 2;
          const actual = Math.atan2(probe[2 * i + 1]!, probe[2 * i]!);
          const wrapped = Math.atan2(Math.sin(actual - expected), Math.cos(actual - expected));
          expect(Math.abs(wrapped)).toBeLessThan(1e-5);
        }
        if (r >= R + 3) expect(amplitude).toBeLessThan(0.01);
      }
    }
    expect(peak).toBeCloseTo(1, 6);
  });

  it("stores noiseless amplitudes whose squares are |fftshift(FFT(probe * Y))|^2 scaled to nphotons", () => {
    const nphotons = 1e6;
    const dataset = simulateDataset({ ...SMALL, nphotons, noise: false });
    const N = 16;
    const NN = N * N;
    const probe = dataset.arrays.probeGuess.data;
    const Y = dataset.arrays.Y.data;
    const counts = countsOf(dataset);
    const expected: Float64Array[] = [];
    let total = 0;
    for (let m = 0; m < 12; m++) {
      const re = new Float64Array(NN);
      const im = new Float64Array(NN);
      for (let i = 0; i < NN; i++) {
        const [pr, pi, yr, yi] = [
          probe[2 * i]!,
          probe[2 * i + 1]!,
          Y[2 * (m * NN + i)]!,
          Y[2 * (m * NN + i) + 1]!,
        ];
        re[i] = pr * yr - pi * yi;
        im[i] = pr * yi + pi * yr;
      }
      const intensity = naiveShiftedIntensity(re, im, N);
      expected.push(intensity);
      total += intensity.reduce((a, b) => a + b, 0);
    }
    const scale = nphotons / (total / 12);
    let worst = 0;
    let largest = 0;
    for (let m = 0; m < 12; m++) {
      for (let i = 0; i < NN; i++) {
        worst = Math.max(worst, Math.abs(counts[m * NN + i]! - scale * expected[m]![i]!));
        largest = Math.max(largest, counts[m * NN + i]!);
      }
    }
    expect(worst / largest).toBeLessThan(1e-6);
    expect(mean(totalsOf(dataset)) / nphotons).toBeCloseTo(1, 6);
  });

  it("simulates N = 64 with 512 positions in well under 2 s, with mean total counts nphotons", () => {
    const start = performance.now();
    const dataset = simulateDataset();
    const elapsed = performance.now() - start;
    expect(elapsed).toBeLessThan(2000);
    expect(dataset.arrays.diffraction.shape).toEqual([512, 64, 64]);
    expect(Math.abs(mean(totalsOf(dataset)) / 1e9 - 1)).toBeLessThan(0.01);
  });

  it("averages nphotons total counts per pattern with Poisson noise at low nphotons too", () => {
    const dataset = simulateDataset({ N: 16, positions: 2000, nphotons: 500 });
    expect(Math.abs(mean(totalsOf(dataset)) / 500 - 1)).toBeLessThan(0.01);
  });

  it("adds Poisson noise: integer counts whose variance about the expected counts equals their mean", () => {
    const options = { N: 16, positions: 400, nphotons: 2000 };
    const noisy = countsOf(simulateDataset(options));
    const expected = countsOf(simulateDataset({ ...options, noise: false }));
    let sumExpected = 0;
    let sumDifference = 0;
    let sumSquares = 0;
    for (let i = 0; i < noisy.length; i++) {
      const k = noisy[i]!;
      if (Math.abs(k - Math.round(k)) > 1e-3 * Math.max(1, k))
        throw new Error(`counts ${k} is not an integer`);
      sumExpected += expected[i]!;
      sumDifference += k - expected[i]!;
      sumSquares += (k - expected[i]!) ** 2;
    }
    expect(Math.abs(sumDifference / sumExpected)).toBeLessThan(0.01);
    expect(Math.abs(sumSquares / sumExpected - 1)).toBeLessThan(0.05);
  });

  it("normalises amplitudes by one power-of-two factor recorded in the metadata, the largest at most 1", () => {
    for (const nphotons of [1e3, 1e9, 1e12]) {
      const dataset = simulateDataset({ ...SMALL, nphotons });
      const scale = dataset.metadata.physics_parameters.amplitude_scale;
      expect(Number.isInteger(Math.log2(scale))).toBe(true);
      const largest = Math.max(...dataset.arrays.diffraction.data);
      expect(largest).toBeGreaterThan(0.5);
      expect(largest).toBeLessThanOrEqual(1);
      expect(Math.min(...dataset.arrays.diffraction.data)).toBeGreaterThanOrEqual(0);
    }
  });
});

describe("splitSimulatedDataset", () => {
  it("puts the first M - k positions in train and the last k in test, sharing probe and object", () => {
    const dataset = simulateDataset({ N: 16, positions: 10 });
    const { train, test } = splitSimulatedDataset(dataset);
    // round(10 * 0.25) = 3 test positions
    expect([train.arrays.xcoords.shape, test.arrays.xcoords.shape]).toEqual([[7], [3]]);
    expect([...train.arrays.xcoords.data, ...test.arrays.xcoords.data]).toEqual([
      ...dataset.arrays.xcoords.data,
    ]);
    expect(test.arrays.diffraction.data).toEqual(dataset.arrays.diffraction.data.slice(7 * 256));
    expect(test.arrays.Y.data).toEqual(dataset.arrays.Y.data.slice(2 * 7 * 256));
    expect(test.arrays.diffraction.shape).toEqual([3, 16, 16]);
    expect(train.arrays.probeGuess).toBe(dataset.arrays.probeGuess);
    expect(test.arrays.objectGuess).toBe(dataset.arrays.objectGuess);
    expect([train.metadata.split, test.metadata.split]).toEqual(["train", "test"]);
    expect(test.metadata.physics_parameters).toEqual(dataset.metadata.physics_parameters);
    expect(splitSimulatedDataset(dataset, { testCount: 1 }).test.arrays.xcoords.shape).toEqual([1]);
    for (const side of [train, test]) {
      expect(checkDataContract(asNpz(side), { purpose: "train" })).toEqual({ errors: [], warnings: [] });
    }
  });

  it("refuses splits that leave a side empty or are out of range", () => {
    const dataset = simulateDataset({ N: 16, positions: 4 });
    const messages = [
      { testFraction: 0.1 },
      { testFraction: 0 },
      { testFraction: 1 },
      { testCount: 4 },
      { testCount: 0.5 },
      { testFraction: 0.5, testCount: 2 },
    ].map((split) => {
      const error = caughtSync(() => splitSimulatedDataset(dataset, split));
      expect(codeOf(error)).toBe("INVALID_OPTIONS");
      return messageOf(error);
    });
    expect(messages).toMatchInlineSnapshot(`
      [
        "options.testFraction: must leave at least one of the 4 positions in each of train and test (it gives 0 test positions), got 0.1. Use more positions or another split.",
        "options.testFraction: must be a fraction in (0, 1), got 0.",
        "options.testFraction: must be a fraction in (0, 1), got 1.",
        "options.testCount: must leave at least one of the 4 positions in each of train and test (it gives 4 test positions), got 4. Use more positions or another split.",
        "options.testCount: must be an integer, got 0.5.",
        "options.testCount: cannot be given together with testFraction, got 2. Give one of them.",
      ]
    `);
  });
});

describe("writeSimulatedDataset", () => {
  it("writes train and test files that pass the contract, read through loadNpz and readNpzHeaders", async () => {
    const dir = freshDir();
    const options = { N: 16, positions: 20, nphotons: 1e5, seed: 3 };
    const files = await writeSimulatedDataset({
      ...options,
      trainOut: join(dir, "train.npz"),
      testOut: join(dir, "test.npz"),
    });
    expect(
      files.map((f) => ({ ...f, path: messageOf(f.path, tmp), bytes: f.bytes > 0 })),
    ).toMatchInlineSnapshot(`
      [
        {
          "M": 15,
          "N": 16,
          "bytes": true,
          "nphotons": 100000,
          "path": "<tmp>/case-0/train.npz",
          "split": "train",
        },
        {
          "M": 5,
          "N": 16,
          "bytes": true,
          "nphotons": 100000,
          "path": "<tmp>/case-0/test.npz",
          "split": "test",
        },
      ]
    `);
    const { train, test } = splitSimulatedDataset(simulateDataset(options));
    for (const [file, expected] of [
      [files[0]!, train],
      [files[1]!, test],
    ] as const) {
      for (const report of [
        checkDataContract(await readNpzHeaders(file.path), { purpose: "train", modelType: "supervised" }),
        checkDataContract(await loadNpz(file.path), { purpose: "train", modelType: "supervised" }),
      ]) {
        expect(report).toEqual({ errors: [], warnings: [] });
      }
      const loaded = await loadNpz(file.path);
      for (const [key, array] of Object.entries(expected.arrays))
        expect(loaded.arrays.get(key)).toEqual(array);
      expect((await readNphotons(file.path))?.value).toBe(1e5);
    }
  });

  it("writes byte-identical files for the same options", async () => {
    const [a, b] = [freshDir(), freshDir()];
    for (const dir of [a, b]) {
      await writeSimulatedDataset({
        N: 16,
        positions: 10,
        trainOut: join(dir, "train.npz"),
        testOut: join(dir, "test.npz"),
      });
    }
    for (const name of ["train.npz", "test.npz"]) {
      expect(readFileSync(join(a, name)).equals(readFileSync(join(b, name)))).toBe(true);
    }
    await writeSimulatedDataset({ N: 16, positions: 10, seed: 1, out: join(b, "other.npz") });
    expect(readFileSync(join(b, "other.npz")).length).toBeGreaterThan(0);
  });

  it("writes one file with every position for out, compressed when asked", async () => {
    const file = join(tmp, "single.npz");
    const [written] = await writeSimulatedDataset({ N: 16, positions: 6, out: file, compress: true });
    expect([written?.M, written?.split]).toEqual([6, "all"]);
    const headers = await readNpzHeaders(file);
    expect(headers.headers.get("diffraction")?.compressed).toBe(true);
    expect(checkDataContract(await loadNpz(file), { purpose: "train" }).errors).toEqual([]);
  });

  it("writes nothing when the options are invalid, and WRITE_FAILED with no leftovers when a folder is missing", async () => {
    const dir = freshDir();
    const train = join(dir, "train.npz");
    const bad: unknown[] = [
      { N: 15, trainOut: train, testOut: join(dir, "test.npz") },
      { positions: 3, trainOut: train, testOut: join(dir, "test.npz"), testFraction: 0.1 },
      { trainOut: train, testOut: train },
      { trainOut: train },
      { out: train, testFraction: 0.5 },
      { out: "" },
      {},
    ];
    const messages: string[] = [];
    for (const options of bad) {
      const error = await caught(() => writeSimulatedDataset(options as never));
      expect(codeOf(error)).toBe("INVALID_OPTIONS");
      messages.push(messageOf(error, tmp));
    }
    expect(messages).toMatchInlineSnapshot(`
      [
        "options.N: must be an even integer from 16 to 1024, got 15.",
        "options.testFraction: must leave at least one of the 3 positions in each of train and test (it gives 0 test positions), got 0.1. Use more positions or another split.",
        "options.testOut: must differ from trainOut, got "<tmp>/case-3/train.npz".",
        "options.testOut: must be a non-empty file path, got undefined.",
        "options.testFraction: cannot be given with out (one file holds every position), got 0.5. Drop one.",
        "options.out: must be a non-empty file path, got "".",
        "options: give out (one file) or trainOut and testOut (a train/test split), got neither.",
      ]
    `);
    const missing = await caught(() =>
      writeSimulatedDataset({
        N: 16,
        positions: 4,
        trainOut: train,
        testOut: join(dir, "no-such-folder", "test.npz"),
      }),
    );
    expect(codeOf(missing)).toBe("WRITE_FAILED");
    expect(messageOf(missing, tmp)).toMatchInlineSnapshot(
      `"<tmp>/case-3/no-such-folder/test.npz: could not write the file (ENOENT); check that the folder <tmp>/case-3/no-such-folder exists and is writable. Nothing was written."`,
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it.skipIf(!HAS_NUMPY)(
    "writes files numpy reads, with the contract dtypes, nphotons and physics",
    async () => {
      const dir = freshDir();
      await writeSimulatedDataset({
        N: 32,
        positions: 40,
        nphotons: 1e6,
        trainOut: join(dir, "train.npz"),
        testOut: join(dir, "test.npz"),
      });
      await writeSimulatedDataset({
        N: 32,
        positions: 40,
        nphotons: 1e6,
        noise: false,
        out: join(dir, "clean.npz"),
      });
      const out = python(
        `
result = {}
for name in ["train", "test", "clean"]:
    with np.load(sys.argv[1] + "/" + name + ".npz", allow_pickle=False) as f:
        meta = json.loads(str(f["_metadata"]))
        scale = meta["physics_parameters"]["amplitude_scale"]
        d = f["diffraction"]; probe = f["probeGuess"]; obj = f["objectGuess"]; Y = f["Y"]
        counts = (d.astype(np.float64) / scale) ** 2
        n = probe.shape[0]
        cx = np.floor(f["xcoords"] + 0.5).astype(int); cy = np.floor(f["ycoords"] + 0.5).astype(int)
        crops = np.stack([obj[y - n // 2 : y + n // 2, x - n // 2 : x + n // 2] for x, y in zip(cx, cy)])
        far = np.abs(np.fft.fftshift(np.fft.fft2(probe.astype(np.complex128) * Y), axes=(1, 2))) ** 2
        ratio = counts.sum() / far.sum()
        result[name] = {
            "dtypes": {k: f[k].dtype.str for k in f.files},
            "shapes": {k: " x ".join(map(str, f[k].shape)) for k in f.files if k != "_metadata"},
            "mean_total_over_nphotons": round(float(counts.sum(axis=(1, 2)).mean() / meta["physics_parameters"]["nphotons"]), 2),
            "Y_is_object_crop": bool(np.array_equal(crops, Y)),
            "far_field_error": float(np.abs(counts - ratio * far).max() / counts.max()),
            "split": meta["split"],
        }
print(json.dumps(result))
`,
        dir,
      );
      const result = JSON.parse(out) as Record<
        string,
        { dtypes: unknown; shapes: Record<string, number[]>; far_field_error: number } & Record<
          string,
          unknown
        >
      >;
      expect(result.clean!.far_field_error).toBeLessThan(1e-5);
      expect(result.train!.far_field_error).toBeGreaterThan(1e-3); // Poisson noise
      const summary = Object.fromEntries(
        Object.entries(result).map(([name, { far_field_error: _, ...rest }]) => [name, rest]),
      );
      expect(summary).toMatchInlineSnapshot(`
        {
          "clean": {
            "Y_is_object_crop": true,
            "dtypes": {
              "Y": "<c8",
              "_metadata": "<U272",
              "diffraction": "<f4",
              "objectGuess": "<c8",
              "probeGuess": "<c8",
              "scan_index": "<i8",
              "xcoords": "<f8",
              "xcoords_start": "<f8",
              "ycoords": "<f8",
              "ycoords_start": "<f8",
            },
            "mean_total_over_nphotons": 1,
            "shapes": {
              "Y": "40 x 32 x 32",
              "diffraction": "40 x 32 x 32",
              "objectGuess": "65 x 70",
              "probeGuess": "32 x 32",
              "scan_index": "40",
              "xcoords": "40",
              "xcoords_start": "40",
              "ycoords": "40",
              "ycoords_start": "40",
            },
            "split": "all",
          },
          "test": {
            "Y_is_object_crop": true,
            "dtypes": {
              "Y": "<c8",
              "_metadata": "<U272",
              "diffraction": "<f4",
              "objectGuess": "<c8",
              "probeGuess": "<c8",
              "scan_index": "<i8",
              "xcoords": "<f8",
              "xcoords_start": "<f8",
              "ycoords": "<f8",
              "ycoords_start": "<f8",
            },
            "mean_total_over_nphotons": 0.99,
            "shapes": {
              "Y": "10 x 32 x 32",
              "diffraction": "10 x 32 x 32",
              "objectGuess": "65 x 70",
              "probeGuess": "32 x 32",
              "scan_index": "10",
              "xcoords": "10",
              "xcoords_start": "10",
              "ycoords": "10",
              "ycoords_start": "10",
            },
            "split": "test",
          },
          "train": {
            "Y_is_object_crop": true,
            "dtypes": {
              "Y": "<c8",
              "_metadata": "<U273",
              "diffraction": "<f4",
              "objectGuess": "<c8",
              "probeGuess": "<c8",
              "scan_index": "<i8",
              "xcoords": "<f8",
              "xcoords_start": "<f8",
              "ycoords": "<f8",
              "ycoords_start": "<f8",
            },
            "mean_total_over_nphotons": 1,
            "shapes": {
              "Y": "30 x 32 x 32",
              "diffraction": "30 x 32 x 32",
              "objectGuess": "65 x 70",
              "probeGuess": "32 x 32",
              "scan_index": "30",
              "xcoords": "30",
              "xcoords_start": "30",
              "ycoords": "30",
              "ycoords_start": "30",
            },
            "split": "train",
          },
        }
      `);
    },
  );
});
