import type { Tensor } from "@tensorflow/tfjs";
import { MODEL_DEFAULTS, type ModelConfig } from "@trainkit/training-config";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../src/tf/backend.ts";
import { setReferenceOps } from "../../src/tf/internal/reference.ts";
import { createPtychoModel } from "../../src/tf/model.ts";
import { lossAndGradients } from "../../src/tf/step.ts";
import { tf } from "../../src/tf/tfjs.ts";
import { diskProbe, randomArray } from "./helpers.ts";

/** max |a - b| / max |b|. */
function scaledError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return scale === 0 ? diff : diff / scale;
}

beforeAll(async () => {
  await initBackend("wasm");
});
afterAll(() => {
  setReferenceOps(false);
});

const WEIGHTS = { nllWeight: 1, maeWeight: 0.5, realspaceWeight: 1, realspaceMaeWeight: 0.3 };

/** Loss and gradients of a small model on `backend`; `reference` uses stock ops and their gradients. */
async function gradients(model: Partial<ModelConfig>, backend: "cpu" | "wasm", reference: boolean) {
  if (backend === "wasm") await initBackend("wasm");
  else await tf.setBackend("cpu");
  setReferenceOps(reference);
  try {
    // N = 32 (outside the schema's 64/128/256, fine for the network) keeps the cpu reference fast.
    const config = { ...MODEL_DEFAULTS, nFiltersScale: 1, ...model, N: 32 as ModelConfig["N"] };
    const c = config.gridsize ** 2;
    const m = createPtychoModel(
      { model: config, training: { nphotons: 1e3, probeTrainable: true, intensityScaleTrainable: true } },
      diskProbe(32),
      3,
    );
    const shape: [number, number, number, number] = [1, 32, 32, c];
    const size = 32 * 32 * c;
    const tensors: Tensor[] = [];
    const keep = <T extends Tensor>(t: T): T => {
      tensors.push(t);
      return t;
    };
    const batch = {
      diffraction: keep(tf.tensor4d(randomArray(size, 4, 0, 0.3), shape)),
      offsets:
        c > 1 ? { data: Array.from({ length: c * 2 }, (_, i) => (i * 7) % 11), shape: [1, c, 2] } : undefined,
      groundTruth: {
        re: keep(tf.tensor4d(randomArray(size, 5, 0.5, 1), shape)),
        im: keep(tf.tensor4d(randomArray(size, 6, -0.3, 0.3), shape)),
      },
    };
    const r = lossAndGradients(m, batch, WEIGHTS);
    const grads = new Map([...r.grads].map(([k, g]) => [k, g.dataSync()]));
    tf.dispose([...r.grads.values(), ...tensors]);
    m.dispose();
    return { loss: r.loss, grads };
  } finally {
    setReferenceOps(false);
  }
}

const variants: Partial<ModelConfig>[] = [
  {},
  { gridsize: 2 },
  { gridsize: 2, objectBig: false },
  { padObject: false, ampActivation: "swish" },
  { gaussianSmoothingSigma: 0.7, probeMask: true, probeBig: false },
];

describe("model gradients", () => {
  for (const v of variants) {
    it(`equal the cpu autodiff gradients of the same model built from stock ops (${JSON.stringify(v)})`, {
      timeout: 60_000,
    }, async () => {
      const ref = await gradients(v, "cpu", true);
      const got = await gradients(v, "wasm", false);
      expect(Math.abs(got.loss - ref.loss) / Math.abs(ref.loss)).toBeLessThan(1e-5);
      expect([...got.grads.keys()]).toEqual([...ref.grads.keys()]);
      const errors = Object.fromEntries(
        [...ref.grads].map(([name, g]) => [
          name,
          scaledError(got.grads.get(name) as Float32Array, g as Float32Array),
        ]),
      );
      // The network's weights agree to ~1e-6; the probe and the intensity scale, whose gradients are
      // sums with much cancellation over every pixel, to ~2e-4 (float32 summation order).
      const worst = Object.entries(errors).sort((a, b) => b[1] - a[1])[0] as [string, number];
      expect(worst[1], `worst: ${worst[0]}`).toBeLessThan(1e-3);
    });
  }
});
