// The optimizers update in JavaScript, rounding every operation to float32. These tests hold them to
// the bytes of the TensorFlow.js ops they replaced (issue 16), run on the wasm backend the engine
// trains on (XNNPACK) and on cpu: weights and every state slot, over many steps.
import type { Tensor, Variable } from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { createOptimizer, type OptimizerOptions } from "../../src/loop/optimizers.ts";
import { createRng } from "../../src/loop/rng.ts";
import { initBackend } from "../../src/tf/backend.ts";
import { tf } from "../../src/tf/tfjs.ts";
import { onBackend } from "./helpers.ts";

beforeAll(async () => {
  await initBackend("wasm");
});

type Options = Required<Omit<OptimizerOptions, "epsilon">> & { readonly epsilon: number };

/** The update rules as the TensorFlow.js ops the engine ran before (one variable, float32). */
function opsReference(options: Options, w0: Float32Array, grads: Float32Array[], lrs: number[]) {
  const { optimizer: kind, momentum, weightDecay: wd, adamBeta1: beta1, adamBeta2: beta2, epsilon } = options;
  const w = tf.variable(tf.tensor1d(w0));
  const m = tf.variable(tf.zerosLike(w));
  const v = tf.variable(tf.zerosLike(w));
  grads.forEach((values, s) => {
    const t = s + 1;
    const lr = lrs[s] as number;
    tf.tidy(() => {
      let g: Tensor = tf.tensor1d(values);
      if (kind === "sgd") {
        if (wd !== 0) g = g.add(w.mul(wd));
        if (momentum > 0) {
          m.assign(m.mul(momentum).add(g));
          g = m;
        }
        w.assign(w.sub(g.mul(lr)));
        return;
      }
      const decoupled = kind === "adamw";
      if (!decoupled && wd !== 0) g = g.add(w.mul(wd));
      m.assign(m.mul(beta1).add(g.mul(1 - beta1)));
      v.assign(v.mul(beta2).add(g.square().mul(1 - beta2)));
      const bc1 = 1 - beta1 ** t;
      const bc2 = 1 - beta2 ** t;
      const base: Tensor = decoupled && wd !== 0 ? w.mul(1 - lr * wd) : w;
      const denom = v.sqrt().div(Math.sqrt(bc2)).add(epsilon);
      w.assign(base.sub(m.div(denom).mul(lr / bc1)));
    });
  });
  const read = (t: Variable) => (t.dataSync() as Float32Array).slice();
  const out = { w: read(w), m: read(m), v: read(v) };
  tf.dispose([w, m, v] as Variable[]);
  return out;
}

function viaOptimizer(options: Options, w0: Float32Array, grads: Float32Array[], lrs: number[]) {
  const w = tf.variable(tf.tensor1d(w0));
  const opt = createOptimizer(new Map([["w", w]]), options);
  grads.forEach((values, s) => {
    const g = tf.tensor1d(values);
    opt.step(new Map([["w", g]]), lrs[s] as number);
    g.dispose();
  });
  const state = opt.getState();
  const out = { w: (w.dataSync() as Float32Array).slice(), state };
  opt.dispose();
  w.dispose();
  return out;
}

/** Values over many magnitudes, both signs, with exact zeros. */
function spread(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, (_, i) =>
    i % 17 === 0 ? 0 : rng.normal() * 10 ** Math.floor(rng.uniform() * 12 - 8),
  );
}

const bytes = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

const base: Options = {
  optimizer: "adam",
  momentum: 0.9,
  weightDecay: 0,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  epsilon: 1e-8,
};

describe("optimizer updates", () => {
  const cases: Options[] = [
    base,
    { ...base, weightDecay: 0.01 },
    { ...base, optimizer: "adamw", weightDecay: 0.1, adamBeta1: 0.8, adamBeta2: 0.95 },
    { ...base, optimizer: "sgd", weightDecay: 0.001 },
    { ...base, optimizer: "sgd", momentum: 0, weightDecay: 0 },
  ];
  const n = 4099;
  const w0 = spread(n, 1);
  const grads = Array.from({ length: 25 }, (_, s) => spread(n, 10 + s));
  const lrs = grads.map((_, s) => 1e-3 * 0.9 ** s);
  for (const backend of ["wasm", "cpu"] as const) {
    for (const options of cases) {
      it(`give the bytes of the TensorFlow.js ops they replace (${backend}, ${options.optimizer}, weight decay ${options.weightDecay}, momentum ${options.momentum})`, async () => {
        const want = await onBackend(backend, () => opsReference(options, w0, grads, lrs));
        const got = await onBackend(backend, () => viaOptimizer(options, w0, grads, lrs));
        expect(bytes(got.w)).toEqual(bytes(want.w));
        const slots = Object.entries(got.state).filter(([key]) => key !== "step");
        if (options.optimizer === "sgd") {
          expect(slots.map(([key]) => key)).toEqual(options.momentum > 0 ? ["sgd.momentum/w"] : []);
          if (options.momentum > 0) expect(bytes(slots[0]?.[1] as Float32Array)).toEqual(bytes(want.m));
        } else {
          expect(bytes(got.state["adam.m/w"] as Float32Array)).toEqual(bytes(want.m));
          expect(bytes(got.state["adam.v/w"] as Float32Array)).toEqual(bytes(want.v));
        }
      });
    }
  }
});
