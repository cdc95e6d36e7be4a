import type * as TF from "@tensorflow/tfjs";
import { isConfigError } from "@trainkit/execution-config";
import { beforeAll, describe, expect, it } from "vitest";
import { clipGradients, globalGradNorm } from "../../src/loop/gradient-clipping.ts";
import { caught, loadTf } from "./helpers.ts";

let tf: typeof TF;
beforeAll(async () => {
  tf = await loadTf();
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
    const zero = await caught(() => clipGradients(g, { algorithm: "norm", clipValue: 0 }));
    expect(isConfigError(zero)).toBe(true);
    expect((zero as Error).message).toMatchInlineSnapshot(`"execution.gradientClipVal: must be > 0, got 0."`);
    const kind = await caught(() => clipGradients(g, { algorithm: "global" as "norm", clipValue: 1 }));
    expect(isConfigError(kind)).toBe(true);
    expect((kind as Error).message).toMatchInlineSnapshot(
      `"execution.gradientClipAlgorithm: must be one of "norm", "value", "agc", got "global"."`,
    );
  });
});
