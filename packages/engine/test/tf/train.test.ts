import { MODEL_DEFAULTS } from "@trainkit/training-config";
import { beforeAll, describe, expect, it } from "vitest";
import { createOptimizer } from "../../src/loop/optimizers.ts";
import { initBackend } from "../../src/tf/backend.ts";
import { COUNT_EPSILON } from "../../src/tf/losses.ts";
import { createPtychoModel, meanTotalIntensity } from "../../src/tf/model.ts";
import { evaluate, lossAndGradients } from "../../src/tf/step.ts";
import { tf } from "../../src/tf/tfjs.ts";
import { batchOf, makeSyntheticData } from "./synthetic.ts";

beforeAll(async () => {
  await initBackend("wasm");
});

describe("training (smoke)", () => {
  it("lowers the Poisson NLL's excess over its floor in 30 Adam steps on synthetic data", () => {
    const n = 64;
    const count = 32;
    const size = 8;
    const data = makeSyntheticData(n, count, 5);
    const model = createPtychoModel(
      {
        model: { ...MODEL_DEFAULTS, nFiltersScale: 1 },
        training: { nphotons: 1e5, probeTrainable: false, intensityScaleTrainable: true },
      },
      data.probe,
      1,
      { meanTotalIntensity: meanTotalIntensity(data.diffraction, count) },
    );
    const batches = Array.from({ length: count / size }, (_, k) =>
      batchOf(data.diffraction, n, k * size, size),
    );
    // The NLL's minimum over predictions: I_pred = I_obs everywhere.
    let floor = 0;
    for (const a of data.diffraction) {
      const counts = (a * model.initialIntensityScale) ** 2;
      floor += counts - counts * Math.log(counts + COUNT_EPSILON);
    }
    floor /= data.diffraction.length;
    const datasetLoss = () =>
      batches.reduce((s, b) => s + evaluate(model, { diffraction: b }).loss, 0) / batches.length;

    const optimizer = createOptimizer(new Map(model.trainableVariables.map((v) => [v.name, v.variable])), {
      optimizer: "adam",
    });
    const before = datasetLoss();
    for (let step = 0; step < 30; step++) {
      const r = lossAndGradients(model, {
        diffraction: batches[step % batches.length] as (typeof batches)[number],
      });
      optimizer.step(r.grads, 1e-3);
      for (const g of r.grads.values()) g.dispose();
    }
    const after = datasetLoss();
    // The physics calibration makes the untrained model's total counts right, so what is left above
    // the floor is the object's structure: Adam removes a fifth of it in 30 steps (measured 21%;
    // without learning it stays put).
    expect(after - floor).toBeLessThan(0.88 * (before - floor));
    expect(before - floor).toBeGreaterThan(0.2); // measured 0.42
    tf.dispose(batches);
    model.dispose();
  }, 60_000); // about 3 s alone; the suite runs it beside other CPU-heavy files on 2 cores
});
