import type { Tensor4D } from "@tensorflow/tfjs";
import { MODEL_DEFAULTS, type ModelConfig } from "@trainkit/training-config";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../src/tf/backend.ts";
import {
  AMPLITUDE_REFERENCE,
  createPtychoModel,
  encoderWidths,
  initialIntensityScale,
  meanTotalIntensity,
  type PtychoModel,
} from "../../src/tf/model.ts";
import { normalizeProbe, softProbeMask } from "../../src/tf/probe.ts";
import { lossAndGradients } from "../../src/tf/step.ts";
import { tf } from "../../src/tf/tfjs.ts";
import { diskProbe, randomArray } from "./helpers.ts";

beforeAll(async () => {
  await initBackend("wasm");
});

const TRAINING = { nphotons: 1e6, probeTrainable: false, intensityScaleTrainable: true };
const created: PtychoModel[] = [];
afterEach(() => {
  for (const m of created.splice(0)) m.dispose();
});

function build(model: Partial<ModelConfig>, seed = 1, training = TRAINING): PtychoModel {
  const config = { ...MODEL_DEFAULTS, nFiltersScale: 1, ...model };
  const m = createPtychoModel({ model: config, training }, diskProbe(config.N), seed);
  created.push(m);
  return m;
}

function diffraction(b: number, n: number, c: number, seed = 3): Tensor4D {
  return tf.tensor4d(randomArray(b * n * n * c, seed, 0, 1), [b, n, n, c]);
}

function groupOffsets(b: number, gridsize: number) {
  const c = gridsize * gridsize;
  const data: number[] = [];
  for (let k = 0; k < b; k++)
    for (let i = 0; i < c; i++) data.push((i % gridsize) * 5 + k, Math.floor(i / gridsize) * 5);
  return { data, shape: [b, c, 2] };
}

describe("createPtychoModel", () => {
  it("predicts amplitude and phase patches [B, N, N, 1] for gridsize 1", () => {
    const m = build({ gridsize: 1 });
    const x = diffraction(2, 64, 1);
    const { amplitude, phase } = m.predict(x);
    expect(amplitude.shape).toEqual([2, 64, 64, 1]);
    expect(phase.shape).toEqual([2, 64, 64, 1]);
    const amp = amplitude.dataSync();
    const ph = phase.dataSync();
    expect(Math.min(...amp)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...ph.map(Math.abs))).toBeLessThanOrEqual(Math.PI);
    const out = tf.tidy(() => m.forward({ diffraction: x }).intensity?.shape);
    expect(out).toEqual([2, 64, 64, 1]);
    tf.dispose([x, amplitude, phase]);
  });

  it("predicts C = 4 patches for gridsize 2, with and without objectBig", () => {
    for (const objectBig of [true, false]) {
      const m = build({ gridsize: 2, objectBig });
      const x = diffraction(2, 64, 4);
      const offsets = groupOffsets(2, 2);
      const { amplitude, phase } = m.predict(x, offsets);
      expect(amplitude.shape).toEqual([2, 64, 64, 4]);
      expect(phase.shape).toEqual([2, 64, 64, 4]);
      const map = m.createPatchMap(offsets, 2);
      const shapes = tf.tidy(() => {
        const out = m.forward({ diffraction: x, patchMap: map });
        return { decoder: out.amplitude.shape, object: out.object.re.shape, intensity: out.intensity?.shape };
      });
      map?.dispose();
      expect(shapes).toEqual({
        decoder: [2, 64, 64, objectBig ? 4 : 1],
        object: [2, 64, 64, 4],
        intensity: [2, 64, 64, 4],
      });
      tf.dispose([x, amplitude, phase]);
    }
  });

  it("supports gridsize 3 and N = 128", () => {
    const m3 = build({ gridsize: 3 });
    const p3 = m3.predict(diffraction(1, 64, 9), groupOffsets(1, 3));
    expect(p3.amplitude.shape).toEqual([1, 64, 64, 9]);
    const m128 = build({ N: 128 });
    const p128 = m128.predict(diffraction(1, 128, 1));
    expect(p128.amplitude.shape).toEqual([1, 128, 128, 1]);
    tf.dispose([p3.amplitude, p3.phase, p128.amplitude, p128.phase]);
  });

  it("asks for offsets when gridsize > 1", () => {
    const m = build({ gridsize: 2 });
    const x = diffraction(1, 64, 4);
    expect(() => m.predict(x)).toThrow(
      "offsets: gridsize 2 needs the relative scan offsets [B, 4, 2] of each group.",
    );
    x.dispose();
  });

  it("rejects diffraction of the wrong shape with the expected one", () => {
    const m = build({ gridsize: 1 });
    const x = diffraction(1, 64, 4);
    expect(() => m.predict(x)).toThrow(
      "diffraction: expected [B, 64, 64, 1] (N = 64, gridsize^2 = 1), got [1, 64, 64, 4].",
    );
    x.dispose();
  });

  it("predicts only the central N/2 region with padObject and no probeBig", () => {
    const m = build({ padObject: true, probeBig: false });
    const x = diffraction(1, 64, 1);
    const { amplitude, phase } = m.predict(x);
    const amp = amplitude.dataSync();
    let outside = 0;
    let inside = 0;
    for (let i = 0; i < 64; i++) {
      for (let j = 0; j < 64; j++) {
        const v = Math.abs(amp[i * 64 + j] as number);
        if (i >= 16 && i < 48 && j >= 16 && j < 48) inside += v;
        else outside += v;
      }
    }
    expect(outside).toBe(0);
    expect(inside).toBeGreaterThan(0);
    tf.dispose([x, amplitude, phase]);
  });

  it("runs every option: no padObject, swish/softplus/relu, smoothing, probe mask, trainable probe", () => {
    const variants: Partial<ModelConfig>[] = [
      { padObject: false },
      { ampActivation: "swish" },
      { ampActivation: "softplus" },
      { ampActivation: "relu" },
      { gaussianSmoothingSigma: 0.8 },
      { probeMask: true, probeMaskDiameter: 40, probeMaskSigma: 2 },
    ];
    for (const v of variants) {
      const m = build(v);
      const x = diffraction(1, 64, 1);
      const r = lossAndGradients(m, { diffraction: x });
      expect(Number.isFinite(r.loss), JSON.stringify(v)).toBe(true);
      for (const g of r.grads.values()) g.dispose();
      x.dispose();
    }
    const trainableProbe = build({}, 1, { ...TRAINING, probeTrainable: true });
    expect(trainableProbe.trainableVariables.map((v) => v.name)).toContain("probe/re");
  });

  it("names its variables in a stable order (defaults, nFiltersScale 2)", () => {
    const m = build({ nFiltersScale: 2 });
    expect(
      m.variables.map((v) => `${v.name}${v.trainable ? "" : " (fixed)"} [${v.variable.shape.join(",")}]`),
    ).toMatchInlineSnapshot(`
      [
        "enc1a/kernel [3,3,1,32]",
        "enc1a/bias [32]",
        "enc1b/kernel [3,3,32,32]",
        "enc1b/bias [32]",
        "enc2a/kernel [3,3,32,64]",
        "enc2a/bias [64]",
        "enc2b/kernel [3,3,64,64]",
        "enc2b/bias [64]",
        "enc3a/kernel [3,3,64,128]",
        "enc3a/bias [128]",
        "enc3b/kernel [3,3,128,128]",
        "enc3b/bias [128]",
        "amp/dec1a/kernel [3,3,128,64]",
        "amp/dec1a/bias [64]",
        "amp/dec1b/kernel [3,3,64,64]",
        "amp/dec1b/bias [64]",
        "amp/dec2a/kernel [3,3,64,32]",
        "amp/dec2a/bias [32]",
        "amp/dec2b/kernel [3,3,32,32]",
        "amp/dec2b/bias [32]",
        "amp/inner/kernel [3,3,28,1]",
        "amp/inner/bias [1]",
        "amp/outerA/kernel [3,3,4,32]",
        "amp/outerA/bias [32]",
        "amp/outerB/kernel [3,3,32,32]",
        "amp/outerB/bias [32]",
        "amp/outerOut/kernel [3,3,32,1]",
        "amp/outerOut/bias [1]",
        "phase/dec1a/kernel [3,3,128,64]",
        "phase/dec1a/bias [64]",
        "phase/dec1b/kernel [3,3,64,64]",
        "phase/dec1b/bias [64]",
        "phase/dec2a/kernel [3,3,64,32]",
        "phase/dec2a/bias [32]",
        "phase/dec2b/kernel [3,3,32,32]",
        "phase/dec2b/bias [32]",
        "phase/inner/kernel [3,3,28,1]",
        "phase/inner/bias [1]",
        "phase/outerA/kernel [3,3,4,32]",
        "phase/outerA/bias [32]",
        "phase/outerB/kernel [3,3,32,32]",
        "phase/outerB/bias [32]",
        "phase/outerOut/kernel [3,3,32,1]",
        "phase/outerOut/bias [1]",
        "probe/re (fixed) [64,64,1]",
        "probe/im (fixed) [64,64,1]",
        "logIntensityScale []",
      ]
    `);
    expect(m.parameterCount()).toMatchInlineSnapshot(`593437`);
    expect(m.parameterCount(true)).toMatchInlineSnapshot(`585245`);
    expect(encoderWidths(2)).toEqual([32, 64, 128]);
  });

  it("draws byte-identical weights from the same seed, and different ones from another", () => {
    const bytes = (m: PtychoModel) =>
      m.variables.map((v) => Array.from(new Uint8Array(v.variable.dataSync().buffer)));
    const a = build({}, 7);
    const b = build({}, 7);
    const c = build({}, 8);
    expect(bytes(a)).toEqual(bytes(b));
    expect(bytes(a)).not.toEqual(bytes(c));
  });

  it("rejects an architecture other than cnn and a probe of another size", () => {
    expect(() => build({ architecture: "fno" })).toThrow(
      'model.architecture: the TensorFlow.js engine implements only "cnn", got "fno".',
    );
    expect(() =>
      createPtychoModel({ model: { ...MODEL_DEFAULTS }, training: TRAINING }, diskProbe(32), 1),
    ).toThrow("probe: the probe is 32x32 but model.N is 64; they must match.");
  });
});

describe("normalizeProbe", () => {
  it("scales the probe so probeScale * mean|disk * probe| = 1 (upstream)", () => {
    const n = 64;
    const p = normalizeProbe(diskProbe(n, 20), 4);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (Math.hypot(i - n / 2 + 0.5, j - n / 2 + 0.5) < n / 4)
          sum += Math.hypot(p.re[i * n + j] as number, p.im[i * n + j] as number);
      }
    }
    expect((4 * sum) / (n * n)).toBeCloseTo(1, 5);
  });

  it("refuses a probe that is zero in the centre", () => {
    expect(() => normalizeProbe({ re: new Float32Array(16), im: new Float32Array(16), N: 4 }, 4)).toThrow(
      /cannot be normalised/,
    );
  });
});

describe("softProbeMask", () => {
  it("is 1 in the centre, 0 far outside and smooth at the edge", () => {
    const m = softProbeMask(64, 2, null);
    expect(m[32 * 64 + 32]).toBeCloseTo(1, 5);
    expect(m[0]).toBeCloseTo(0, 5);
    const edge = m[32 * 64 + 32 + 16] as number; // on the radius-16 circle
    expect(edge).toBeGreaterThan(0.2);
    expect(edge).toBeLessThan(0.8);
  });
});

describe("initialIntensityScale", () => {
  it("prefers an explicit value, then the data, then sqrt(nphotons)/(N/2)", () => {
    expect(initialIntensityScale(1e6, 64, { intensityScale: 3 })).toEqual({ value: 3, source: "option" });
    expect(initialIntensityScale(1e6, 64, { meanTotalIntensity: 4 })).toEqual({ value: 500, source: "data" });
    expect(initialIntensityScale(1e6, 64)).toEqual({ value: 1000 / 32, source: "nphotons" });
    expect(meanTotalIntensity([1, 2, 3, 4], 2)).toBe(15);
  });
});

describe("the physics calibration", () => {
  it("makes an object of the reference amplitude under the normalised probe reproduce the data's mean total intensity", () => {
    const meanTotal = 123.5;
    const probe = diskProbe(64);
    const model = createPtychoModel(
      { model: { ...MODEL_DEFAULTS, nFiltersScale: 1 }, training: TRAINING },
      probe,
      1,
      {
        meanTotalIntensity: meanTotal,
      },
    );
    created.push(model);
    const x = tf.tensor4d(randomArray(64 * 64, 2, 0, 1), [1, 64, 64, 1]);
    const out = model.forward({ diffraction: x });
    const normalized = normalizeProbe(probe, MODEL_DEFAULTS.probeScale);
    let probeEnergy = 0;
    let illuminated = 0;
    const ore = out.object.re.dataSync();
    const oim = out.object.im.dataSync();
    for (let k = 0; k < 64 * 64; k++) {
      const p2 = normalized.re[k]! ** 2 + normalized.im[k]! ** 2;
      probeEnergy += p2;
      illuminated += (ore[k]! ** 2 + oim[k]! ** 2) * p2;
    }
    const total = out.intensity!.sum().dataSync()[0]!;
    const s2 = model.intensityScale() ** 2;
    // Parseval: sum |DFT(O P)|^2 = sum |O P|^2, and the gain is meanTotal / (a^2 sum |P|^2).
    const gain = meanTotal / (AMPLITUDE_REFERENCE ** 2 * probeEnergy);
    expect(total / s2).toBeCloseTo(illuminated * gain, 1);
    x.dispose();
  });

  it("gives the same object whatever the file's amplitude units (input scaled to a mean total intensity of (N/2)^2)", () => {
    const probe = diskProbe(64);
    const amplitudes = randomArray(2 * 64 * 64, 7, 0, 0.05);
    const objects = [1, 40].map((unit) => {
      const scaled = amplitudes.map((a) => a * unit);
      const model = createPtychoModel(
        { model: { ...MODEL_DEFAULTS, N: 64, nFiltersScale: 1 }, training: TRAINING },
        probe,
        3,
        { meanTotalIntensity: meanTotalIntensity(scaled, 2) },
      );
      created.push(model);
      const x = tf.tensor4d(scaled, [2, 64, 64, 1]);
      const p = model.predict(x);
      const values = [p.amplitude.dataSync().slice(), p.phase.dataSync().slice()];
      tf.dispose([x, p.amplitude, p.phase]);
      return values;
    });
    const [a, b] = objects as [Float32Array[], Float32Array[]];
    for (const part of [0, 1]) {
      const diff = a[part]!.reduce((m, v, k) => Math.max(m, Math.abs(v - b[part]![k]!)), 0);
      expect(diff).toBeLessThan(1e-4);
    }
  });
});
