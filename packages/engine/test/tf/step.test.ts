import type { Tensor, Tensor4D } from "@tensorflow/tfjs";
import { MODEL_DEFAULTS, type ModelConfig } from "@trainkit/training-config";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../src/tf/backend.ts";
import { DEFAULT_LOSS_WEIGHTS } from "../../src/tf/losses.ts";
import { createPtychoModel, type PtychoModel } from "../../src/tf/model.ts";
import { evaluate, lossAndGradients, type TrainingBatch } from "../../src/tf/step.ts";
import { tf } from "../../src/tf/tfjs.ts";
import { diskProbe, randomArray } from "./helpers.ts";

beforeAll(async () => {
  await initBackend("wasm");
});

const TRAINING = { nphotons: 1e5, probeTrainable: false, intensityScaleTrainable: true };
const created: PtychoModel[] = [];
const tensors: Tensor[] = [];
afterEach(() => {
  for (const m of created.splice(0)) m.dispose();
  tf.dispose(tensors.splice(0));
});

function build(model: Partial<ModelConfig> = {}, seed = 1, training = TRAINING): PtychoModel {
  const config = { ...MODEL_DEFAULTS, nFiltersScale: 1, ...model };
  const m = createPtychoModel({ model: config, training }, diskProbe(config.N), seed);
  created.push(m);
  return m;
}

function batch(b: number, c: number, seed = 3): TrainingBatch {
  const diffraction = tf.tensor4d(randomArray(b * 64 * 64 * c, seed, 0, 0.2), [b, 64, 64, c]);
  tensors.push(diffraction);
  if (c === 1) return { diffraction };
  const g = Math.sqrt(c);
  const offsets = {
    data: Array.from({ length: b * c }, (_, i) => [(i % g) * 6, Math.floor((i % c) / g) * 6]).flat(),
    shape: [b, c, 2],
  };
  return { diffraction, offsets };
}

function groundTruth(b: number, c: number): { re: Tensor4D; im: Tensor4D } {
  const re = tf.tensor4d(randomArray(b * 64 * 64 * c, 8, 0.5, 1), [b, 64, 64, c]);
  const im = tf.tensor4d(randomArray(b * 64 * 64 * c, 9, -0.3, 0.3), [b, 64, 64, c]);
  tensors.push(re, im);
  return { re, im };
}

/** One step of plain gradient descent (the tests' stand-in for an optimiser). */
function sgd(model: PtychoModel, grads: Map<string, Tensor>, lr: number): void {
  for (const v of model.trainableVariables) {
    const g = grads.get(v.name) as Tensor;
    tf.tidy(() => {
      v.variable.assign(tf.sub(v.variable, tf.mul(g, lr)));
    });
    g.dispose();
  }
}

describe("lossAndGradients", () => {
  it("returns the loss, its parts and one gradient per trainable variable, shaped like it", () => {
    const m = build();
    const r = lossAndGradients(m, batch(2, 1));
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(Object.keys(r.parts).sort()).toEqual(["mae", "nll"]);
    expect(r.loss).toBeCloseTo(r.parts.nll as number, 3);
    expect([...r.grads.keys()]).toEqual(m.trainableVariables.map((v) => v.name));
    for (const v of m.trainableVariables) expect(r.grads.get(v.name)?.shape).toEqual(v.variable.shape);
    const scaleGrad = r.grads.get("logIntensityScale")?.dataSync()[0] as number;
    expect(Math.abs(scaleGrad)).toBeGreaterThan(0);
    for (const g of r.grads.values()) g.dispose();
  });

  it("weights the parts: total = nllWeight * nll + maeWeight * mae", () => {
    const m = build();
    const b = batch(2, 1);
    const r = evaluate(m, b, { ...DEFAULT_LOSS_WEIGHTS, nllWeight: 0.25, maeWeight: 0.5 });
    expect(r.loss).toBeCloseTo(0.25 * (r.parts.nll as number) + 0.5 * (r.parts.mae as number), 3);
  });

  it("leaks no tensors over 20 steps, evaluations and predictions (gridsize 2, objectBig)", () => {
    const m = build({ gridsize: 2 });
    const b = batch(2, 4);
    const counts: number[] = [];
    for (let step = 0; step < 20; step++) {
      const r = lossAndGradients(m, b);
      sgd(m, r.grads, 1e-4);
      evaluate(m, b);
      const p = m.predict(b.diffraction, b.offsets);
      tf.dispose([p.amplitude, p.phase]);
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts.slice(1)).size).toBe(1);
    expect(counts[0]).toBe(counts[19]);
  });

  it("adds the real-space loss when Y is given and refuses to run without Y", () => {
    const m = build();
    const b = { ...batch(2, 1), groundTruth: groundTruth(2, 1) };
    const weights = { ...DEFAULT_LOSS_WEIGHTS, realspaceWeight: 2, realspaceMaeWeight: 0.5 };
    const r = evaluate(m, b, weights);
    expect(r.loss).toBeCloseTo((r.parts.nll as number) + (r.parts.realspaceMae as number), 3);
    expect(() => evaluate(m, batch(2, 1), weights)).toThrow(
      "training.realspaceWeight and training.realspaceMaeWeight are > 0, so the batch needs ground-truth object patches (Y); the data has none. Set either weight to 0 or use data with Y.",
    );
  });

  it("trains a supervised model on amplitude and phase of Y, without the probe or the scale", () => {
    const m = build({ modelType: "supervised" });
    expect(m.trainableVariables.map((v) => v.name)).not.toContain("logIntensityScale");
    const b = { ...batch(2, 1), groundTruth: groundTruth(2, 1) };
    const r = lossAndGradients(m, b);
    expect(Object.keys(r.parts).sort()).toEqual(["supervisedAmplitude", "supervisedPhase"]);
    expect(r.loss).toBeCloseTo(
      (r.parts.supervisedAmplitude as number) + (r.parts.supervisedPhase as number),
      4,
    );
    for (const g of r.grads.values()) g.dispose();
  });

  it("gives identical losses after 3 steps for two models with the same seed (wasm)", () => {
    const run = () => {
      const m = build({}, 42);
      const b = batch(2, 1, 5);
      const losses: number[] = [];
      for (let step = 0; step < 3; step++) {
        const r = lossAndGradients(m, b);
        losses.push(r.loss);
        sgd(m, r.grads, 1e-3);
      }
      losses.push(evaluate(m, b).loss);
      return { losses, weights: m.variables.map((v) => Array.from(v.variable.dataSync())) };
    };
    const a = run();
    const b = run();
    expect(a.losses).toEqual(b.losses);
    expect(a.weights).toEqual(b.weights);
    expect(a.losses[3]).not.toBe(a.losses[0]);
  });
});
