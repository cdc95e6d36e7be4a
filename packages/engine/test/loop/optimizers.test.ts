import type * as TF from "@tensorflow/tfjs";
import { isConfigError } from "@trainkit/execution-config";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { isLoopError } from "../../src/loop/errors.ts";
import { createOptimizer, type OptimizerKind, type OptimizerOptions } from "../../src/loop/optimizers.ts";
import { createRng } from "../../src/loop/rng.ts";
import { caught, loadTf } from "./helpers.ts";

let tf: typeof TF;
beforeAll(async () => {
  tf = await loadTf();
});

/** torch.optim update rules in float64, for one flat parameter vector. */
function reference(
  options: Required<OptimizerOptions>,
  w0: number[],
  grads: number[][],
  lrs: number[],
): number[] {
  const w = w0.slice();
  const m = w.map(() => 0);
  const v = w.map(() => 0);
  const buf = w.map(() => 0);
  const { optimizer: kind, momentum, weightDecay: wd, adamBeta1: beta1, adamBeta2: beta2, epsilon } = options;
  grads.forEach((g0, s) => {
    const t = s + 1;
    const lr = lrs[s]!;
    for (let i = 0; i < w.length; i++) {
      let g = g0[i]!;
      if (kind === "sgd") {
        if (wd) g += wd * w[i]!;
        if (momentum > 0) {
          buf[i] = momentum * buf[i]! + g;
          g = buf[i]!;
        }
        w[i] = w[i]! - lr * g;
        continue;
      }
      if (kind === "adam" && wd) g += wd * w[i]!;
      if (kind === "adamw") w[i] = w[i]! * (1 - lr * wd);
      m[i] = beta1 * m[i]! + (1 - beta1) * g;
      v[i] = beta2 * v[i]! + (1 - beta2) * g * g;
      const denom = Math.sqrt(v[i]!) / Math.sqrt(1 - beta2 ** t) + epsilon;
      w[i] = w[i]! - (lr / (1 - beta1 ** t)) * (m[i]! / denom);
    }
  });
  return w;
}

function full(kind: OptimizerKind, extra: Partial<OptimizerOptions> = {}): Required<OptimizerOptions> {
  return {
    optimizer: kind,
    momentum: 0.9,
    weightDecay: 0.01,
    adamBeta1: 0.9,
    adamBeta2: 0.999,
    epsilon: 1e-8,
    ...extra,
  };
}

function run(options: Required<OptimizerOptions>, w0: number[], grads: number[][], lrs: number[]): number[] {
  const w = tf.variable(tf.tensor1d(w0));
  const opt = createOptimizer(new Map([["w", w]]), options);
  for (const [s, g] of grads.entries()) {
    const gt = tf.tensor1d(g);
    opt.step(new Map([["w", gt]]), lrs[s]!);
    gt.dispose();
  }
  const out = Array.from(w.dataSync());
  opt.dispose();
  w.dispose();
  return out;
}

describe("createOptimizer", () => {
  const w0 = [0.5, -1.25, 2, 0.01];
  const rng = createRng(3);
  const grads = Array.from({ length: 6 }, () => w0.map(() => rng.normal()));
  const lrs = [1e-2, 1e-2, 5e-3, 5e-3, 1e-3, 1e-3];

  for (const options of [
    full("adam", { weightDecay: 0 }),
    full("adam"),
    full("adamw", { weightDecay: 0.1 }),
    full("sgd"),
    full("sgd", { momentum: 0, weightDecay: 0 }),
  ]) {
    it(`follows the torch.optim rule for ${options.optimizer} (momentum ${options.momentum}, weight decay ${options.weightDecay})`, () => {
      const got = run(options, w0, grads, lrs);
      const want = reference(options, w0, grads, lrs);
      for (let i = 0; i < w0.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 5);
    });
  }

  it("decouples adamw weight decay: a zero gradient shrinks the weights by (1 - lr * wd) exactly", () => {
    const zeros = [w0.map(() => 0)];
    const got = run(full("adamw", { weightDecay: 0.5 }), w0, zeros, [0.1]);
    for (let i = 0; i < w0.length; i++) expect(got[i]).toBeCloseTo(w0[i]! * 0.95, 6);
  });

  it("continues identically after getState/setState into a fresh optimizer", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<OptimizerKind>("adam", "adamw", "sgd"),
        fc.integer({ min: 1, max: 4 }),
        (kind, warm) => {
          const options = full(kind);
          const a = tf.variable(
            tf.tensor2d([
              [1, 2],
              [3, 4],
            ]),
          );
          const oa = createOptimizer(new Map([["k", a]]), options);
          const g = tf.tensor2d([
            [0.1, -0.2],
            [0.3, 0.05],
          ]);
          for (let i = 0; i < warm; i++) oa.step(new Map([["k", g]]), 0.01);
          const state = oa.getState();
          expect(state.step).toBe(warm);
          const b = tf.variable(a.clone());
          const ob = createOptimizer(new Map([["k", b]]), options);
          ob.setState(state);
          for (let i = 0; i < 3; i++) {
            oa.step(new Map([["k", g]]), 0.01);
            ob.step(new Map([["k", g]]), 0.01);
          }
          expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
          expect(ob.iterations).toBe(warm + 3);
          for (const t of [a, b, g]) t.dispose();
          oa.dispose();
          ob.dispose();
        },
      ),
      { numRuns: 12 },
    );
  });

  it("leaks no tensors across steps, and dispose() frees its state", () => {
    const w = tf.variable(tf.ones([3, 3]));
    const initial = tf.memory().numTensors;
    const unused = createOptimizer(new Map([["w", w]]), full("adamw"));
    unused.dispose();
    expect(tf.memory().numTensors).toBe(initial);
    const opt = createOptimizer(new Map([["w", w]]), full("adam"));
    const g = tf.fill([3, 3], 0.5);
    opt.step(new Map([["w", g]]), 0.1);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) opt.step(new Map([["w", g]]), 0.1);
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
    g.dispose();
    w.dispose();
  });

  it("rejects a state from another optimizer or model with INVALID_STATE", async () => {
    const w = tf.variable(tf.zeros([2]));
    const adam = createOptimizer(new Map([["w", w]]), full("adam"));
    const sgd = createOptimizer(new Map([["w", w]]), full("sgd"));
    const error = await caught(() => adam.setState(sgd.getState()));
    expect(isLoopError(error, "INVALID_STATE")).toBe(true);
    expect((error as Error).message).toMatchInlineSnapshot(
      `"optimizer state (adam): unexpected entries sgd.momentum/w; was it saved by another optimizer or model?"`,
    );
    const short = await caught(() =>
      adam.setState({ step: 1, "adam.m/w": new Float32Array(3), "adam.v/w": new Float32Array(2) }),
    );
    expect((short as Error).message).toMatch(/"adam.m\/w" has 3 values, expected 2/);
    adam.dispose();
    sgd.dispose();
    w.dispose();
  });

  it("takes the execution schema's defaults for the settings it is not given", () => {
    const w = tf.variable(tf.zeros([2]));
    // sgd keeps a momentum buffer only for momentum > 0: the schema's default, 0.9.
    const sgd = createOptimizer(new Map([["w", w]]), { optimizer: "sgd" });
    expect(Object.keys(sgd.getState())).toEqual(["step", "sgd.momentum/w"]);
    const plain = createOptimizer(new Map([["w", w]]), { optimizer: "sgd", momentum: 0 });
    expect(Object.keys(plain.getState())).toEqual(["step"]);
    // adam with the defaults (beta1 0.9, beta2 0.999, no weight decay) against the reference rule.
    const got = run({ ...full("adam"), weightDecay: 0 }, [1, -2], [[0.5, 0.25]], [0.1]);
    const w2 = tf.variable(tf.tensor1d([1, -2]));
    const defaults = createOptimizer(new Map([["w", w2]]), { optimizer: "adam" });
    const g = tf.tensor1d([0.5, 0.25]);
    defaults.step(new Map([["w", g]]), 0.1);
    expect(Array.from(w2.dataSync())).toEqual(got);
    for (const o of [sgd, plain, defaults]) o.dispose();
    for (const t of [w, w2, g]) t.dispose();
  });

  it("refuses a setting out of the execution schema's range with the schema's message", async () => {
    const w = tf.variable(tf.zeros([2]));
    const error = await caught(() =>
      createOptimizer(new Map([["w", w]]), { optimizer: "adam", adamBeta2: 1, momentum: -0.5 }),
    );
    expect(isConfigError(error)).toBe(true);
    expect((error as Error).message).toMatchInlineSnapshot(`
      "2 problems:
        - execution.momentum: must be >= 0, got -0.5.
        - execution.adamBeta2: must be < 1, got 1."
    `);
    const kind = await caught(() => createOptimizer(new Map([["w", w]]), { optimizer: "lbfgs" as "adam" }));
    expect(isConfigError(kind)).toBe(true);
    expect((kind as Error).message).toMatchInlineSnapshot(
      `"execution.optimizer: must be one of "adam", "adamw", "sgd", got "lbfgs"."`,
    );
    w.dispose();
  });
});
