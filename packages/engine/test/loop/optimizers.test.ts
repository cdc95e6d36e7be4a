import type * as TF from "@tensorflow/tfjs";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { isLoopError } from "../../src/loop/errors.ts";
import {
  clipGradients,
  createGradientAccumulator,
  createOptimizer,
  globalGradNorm,
  type OptimizerKind,
  type OptimizerOptions,
  optimizerOptionsFrom,
} from "../../src/loop/optimizers.ts";
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
  const { kind, momentum, weightDecay: wd, beta1, beta2, epsilon } = options;
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
  return { kind, momentum: 0.9, weightDecay: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, ...extra };
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
    it(`follows the torch.optim rule for ${options.kind} (momentum ${options.momentum}, weight decay ${options.weightDecay})`, () => {
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

  it("maps the execution config fields", () => {
    expect(
      optimizerOptionsFrom({
        optimizer: "adamw",
        momentum: 0.8,
        weightDecay: 0.1,
        adamBeta1: 0.85,
        adamBeta2: 0.99,
      }),
    ).toEqual({ kind: "adamw", momentum: 0.8, weightDecay: 0.1, beta1: 0.85, beta2: 0.99 });
  });
});

describe("clipGradients", () => {
  it("scales all gradients to the clip value when the global norm exceeds it (norm)", () => {
    const grads = new Map([
      ["a", tf.tensor1d([3, 0])],
      ["b", tf.tensor1d([0, 4])],
    ]);
    expect(globalGradNorm(grads)).toBeCloseTo(5, 6);
    const clipped = clipGradients(grads, { algorithm: "norm", clipValue: 1 });
    expect(globalGradNorm(clipped)).toBeCloseTo(1, 5);
    expect(Array.from(clipped.get("a")!.dataSync())[0]).toBeCloseTo(0.6, 5);
    const loose = clipGradients(grads, { algorithm: "norm", clipValue: 10 });
    expect(Array.from(loose.get("b")!.dataSync())).toEqual([0, 4]);
    for (const m of [grads, clipped, loose]) for (const t of m.values()) t.dispose();
  });

  it("clamps every element to [-clip, clip] (value)", () => {
    const grads = new Map([["a", tf.tensor1d([-3, 0.5, 2])]]);
    const clipped = clipGradients(grads, { algorithm: "value", clipValue: 1 });
    expect(Array.from(clipped.get("a")!.dataSync())).toEqual([-1, 0.5, 1]);
  });

  it("clips each output unit whose gradient/weight norm ratio exceeds the clip (agc)", () => {
    // Dense kernel [in=2, out=2]: unit 0 has ||w|| = 1 and ||g|| = 10 (ratio 10 > 0.5: clipped
    // to 0.5 * 1); unit 1 has ||w|| = 5, ||g|| = 1 (ratio 0.2: kept).
    const w = tf.tensor2d([
      [1, 3],
      [0, 4],
    ]);
    const g = tf.tensor2d([
      [6, 0.6],
      [8, 0.8],
    ]);
    const clipped = clipGradients(new Map([["k", g]]), {
      algorithm: "agc",
      clipValue: 0.5,
      params: new Map([["k", w]]),
    });
    const out = Array.from(clipped.get("k")!.dataSync());
    expect(out[0]).toBeCloseTo(0.3, 5);
    expect(out[2]).toBeCloseTo(0.4, 5);
    expect(out[1]).toBeCloseTo(0.6, 6);
    expect(out[3]).toBeCloseTo(0.8, 6);
    // A zero weight uses the eps floor: max(0, 1e-3) * 0.5 bounds its gradient norm.
    const bias = clipGradients(new Map([["b", tf.tensor1d([3, 4])]]), {
      algorithm: "agc",
      clipValue: 0.5,
      params: new Map([["b", tf.zeros([2])]]),
    });
    expect(globalGradNorm(bias)).toBeCloseTo(5e-4, 7);
  });

  it("needs the parameters for agc and a positive clip value", async () => {
    const g = new Map([["k", tf.zeros([1])]]);
    expect(
      ((await caught(() => clipGradients(g, { algorithm: "agc", clipValue: 1 }))) as Error).message,
    ).toMatch(/options.params/);
    expect(
      ((await caught(() => clipGradients(g, { algorithm: "norm", clipValue: 0 }))) as Error).message,
    ).toMatch(/gradientClipVal: must be a finite number > 0, got 0/);
  });
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
    const optBig = createOptimizer(new Map([["w", big]]), { kind: "sgd", momentum: 0.9 });
    const optSmall = createOptimizer(new Map([["w", small]]), { kind: "sgd", momentum: 0.9 });
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
