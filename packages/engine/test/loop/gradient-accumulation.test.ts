import type * as TF from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { createGradientAccumulator } from "../../src/loop/gradient-accumulation.ts";
import { createOptimizer } from "../../src/loop/optimizers.ts";
import { createRng } from "../../src/loop/rng.ts";
import { caught, loadTf } from "./helpers.ts";

let tf: typeof TF;
beforeAll(async () => {
  tf = await loadTf();
});

describe("createGradientAccumulator", () => {
  it("makes SGD with batch b and k accumulated batches equal batch b*k on a mean loss", () => {
    const rng = createRng(11);
    const n = 12;
    const d = 3;
    const X = tf.tensor2d(
      Array.from({ length: n * d }, () => rng.normal()),
      [n, d],
    );
    const t = tf.tensor1d(Array.from({ length: n }, () => rng.normal()));
    const w0 = [0.3, -0.2, 0.1];
    const loss = (w: TF.Variable, lo: number, hi: number) => () =>
      X.slice([lo, 0], [hi - lo, d])
        .matMul(w.expandDims(1))
        .squeeze([1])
        .sub(t.slice(lo, hi - lo))
        .square()
        .mean() as TF.Scalar;

    const big = tf.variable(tf.tensor1d(w0));
    const small = tf.variable(tf.tensor1d(w0));
    const optBig = createOptimizer(new Map([["w", big]]), { optimizer: "sgd", momentum: 0.9 });
    const optSmall = createOptimizer(new Map([["w", small]]), { optimizer: "sgd", momentum: 0.9 });
    const acc = createGradientAccumulator();
    for (let step = 0; step < 3; step++) {
      const gBig = tf.variableGrads(loss(big, 0, n), [big]);
      optBig.step(new Map([["w", gBig.grads[big.name]!]]), 0.1);
      tf.dispose([gBig.value, ...Object.values(gBig.grads)]);
      for (let k = 0; k < 3; k++) {
        const g = tf.variableGrads(loss(small, 4 * k, 4 * k + 4), [small]);
        acc.add(new Map([["w", g.grads[small.name]!]]));
        tf.dispose([g.value, ...Object.values(g.grads)]);
      }
      expect(acc.count).toBe(3);
      const mean = acc.mean();
      optSmall.step(mean, 0.1);
      for (const m of mean.values()) m.dispose();
      acc.reset();
    }
    const a = Array.from(big.dataSync());
    const b = Array.from(small.dataSync());
    for (let i = 0; i < d; i++) expect(b[i]).toBeCloseTo(a[i]!, 6);
    expect(a).not.toEqual(w0);
  });

  it("refuses micro-batches with different variables", async () => {
    const acc = createGradientAccumulator();
    acc.add(new Map([["a", tf.zeros([1])]]));
    const error = await caught(() => acc.add(new Map([["b", tf.zeros([1])]])));
    expect((error as Error).message).toMatchInlineSnapshot(
      `"gradient accumulation: micro-batch 2 has gradients for [b], earlier ones for [a]."`,
    );
    acc.dispose();
  });
});
