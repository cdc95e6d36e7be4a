import type { Tensor, Tensor1D, Tensor2D, Tensor4D } from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../src/tf/backend.ts";
import { CONV_BACKWARD_KERNEL } from "../../src/tf/internal/conv-backward-kernel.ts";
import { profileKernels } from "../../src/tf/internal/profile.ts";
import { setTapKernelsEnabled } from "../../src/tf/internal/tap-products.ts";
import {
  type ConvActivation,
  conv2dSame,
  createConstMatrix,
  matmulConst,
  maxPool2,
  upsample2,
} from "../../src/tf/ops.ts";
import { tf } from "../../src/tf/tfjs.ts";
import { onBackend, randomArray, relativeError } from "./helpers.ts";

beforeAll(async () => {
  await initBackend("wasm");
});

const TOL = 2e-5;

interface ConvCase {
  readonly h: number;
  readonly w: number;
  readonly ci: number;
  readonly co: number;
  readonly k: number;
  readonly bias: boolean;
  readonly activation: ConvActivation;
}

const convCases: ConvCase[] = [
  { h: 8, w: 8, ci: 3, co: 5, k: 3, bias: true, activation: "relu" },
  { h: 6, w: 10, ci: 4, co: 6, k: 3, bias: false, activation: "linear" },
  { h: 8, w: 8, ci: 6, co: 1, k: 3, bias: true, activation: "linear" },
  { h: 8, w: 6, ci: 5, co: 2, k: 3, bias: true, activation: "relu" },
  { h: 8, w: 8, ci: 1, co: 7, k: 3, bias: true, activation: "relu" },
  { h: 7, w: 9, ci: 3, co: 4, k: 5, bias: true, activation: "linear" },
  { h: 8, w: 8, ci: 4, co: 3, k: 1, bias: true, activation: "relu" },
];

describe("conv2dSame", () => {
  for (const c of convCases) {
    it(`matches the cpu autodiff gradients of conv2d (${c.h}x${c.w}, ${c.ci}->${c.co}, ${c.k}x${c.k}, bias ${c.bias}, ${c.activation})`, async () => {
      const b = 2;
      const x = randomArray(b * c.h * c.w * c.ci, 1);
      const w = randomArray(c.k * c.k * c.ci * c.co, 2, -0.5, 0.5);
      const bias = randomArray(c.co, 3, -0.2, 0.2);
      const r = randomArray(b * c.h * c.w * c.co, 4);
      const run = (custom: boolean) => () =>
        tf.tidy(() => {
          const tx = tf.tensor4d(x, [b, c.h, c.w, c.ci]);
          const tw = tf.tensor4d(w, [c.k, c.k, c.ci, c.co]);
          const tb = tf.tensor1d(bias);
          const tr = tf.tensor4d(r, [b, c.h, c.w, c.co]);
          const f = (xx: Tensor, ww: Tensor, bb?: Tensor): Tensor => {
            let y: Tensor4D;
            if (custom) {
              y = conv2dSame(xx as Tensor4D, ww as Tensor4D, {
                bias: c.bias ? (bb as Tensor1D) : undefined,
                activation: c.activation,
              });
            } else {
              y = tf.conv2d(xx as Tensor4D, ww as Tensor4D, 1, "same");
              if (c.bias) y = tf.add(y, bb as Tensor);
              if (c.activation === "relu") y = tf.relu(y);
            }
            return tf.sum(tf.mul(y, tr));
          };
          const { value, grads } = tf.valueAndGrads(f)(c.bias ? [tx, tw, tb] : [tx, tw]);
          return { value: value.dataSync()[0] as number, grads: grads.map((g) => g.dataSync()) };
        });
      const ref = await onBackend("cpu", run(false));
      const got = await onBackend("wasm", run(true));
      expect(Math.abs(got.value - ref.value) / Math.max(1, Math.abs(ref.value))).toBeLessThan(TOL);
      expect(got.grads).toHaveLength(ref.grads.length);
      ref.grads.forEach((g, i) => {
        expect(relativeError(got.grads[i] as Float32Array, g), `gradient ${["x", "w", "b"][i]}`).toBeLessThan(
          TOL,
        );
      });
    });
  }

  it("returns zeros for the input gradient when inputGrad is false, and the same filter gradient", async () => {
    const x = randomArray(2 * 8 * 8 * 2, 5);
    const w = randomArray(3 * 3 * 2 * 4, 6);
    const grads = await onBackend("wasm", () =>
      tf.tidy(() => {
        const f = (inputGrad: boolean) =>
          tf
            .grads((xx: Tensor, ww: Tensor) =>
              tf.sum(tf.square(conv2dSame(xx as Tensor4D, ww as Tensor4D, { inputGrad }))),
            )([tf.tensor4d(x, [2, 8, 8, 2]), tf.tensor4d(w, [3, 3, 2, 4])])
            .map((g) => g.dataSync());
        return { on: f(true), off: f(false) };
      }),
    );
    expect(Math.max(...Array.from(grads.off[0] as Float32Array, Math.abs))).toBe(0);
    expect(relativeError(grads.off[1] as Float32Array, grads.on[1] as Float32Array)).toBe(0);
    expect(Math.max(...Array.from(grads.on[0] as Float32Array, Math.abs))).toBeGreaterThan(0);
  });

  describe(`on wasm in one kernel (${CONV_BACKWARD_KERNEL})`, () => {
    const cases = [
      { ci: 3, co: 5, k: 3, bias: true, activation: "relu", inputGrad: true, filterGrad: true },
      { ci: 4, co: 6, k: 3, bias: false, activation: "linear", inputGrad: true, filterGrad: true },
      { ci: 1, co: 7, k: 3, bias: true, activation: "relu", inputGrad: false, filterGrad: true },
      { ci: 3, co: 4, k: 5, bias: true, activation: "linear", inputGrad: true, filterGrad: true },
      { ci: 2, co: 3, k: 3, bias: true, activation: "relu", inputGrad: true, filterGrad: false },
      // One and two outputs (the ops stack the shifted output gradients into one product).
      { ci: 6, co: 1, k: 3, bias: true, activation: "linear", inputGrad: true, filterGrad: true },
      { ci: 5, co: 2, k: 3, bias: true, activation: "relu", inputGrad: true, filterGrad: true },
    ] as const;
    /** Loss and gradient bytes of one convolution, with the fused kernel registered or not. */
    const gradientBytes = (c: (typeof cases)[number], fused: boolean) => {
      const config = tf.getKernel(CONV_BACKWARD_KERNEL, "wasm");
      if (config === undefined) throw new Error(`${CONV_BACKWARD_KERNEL} is not registered`);
      if (!fused) tf.unregisterKernel(CONV_BACKWARD_KERNEL, "wasm");
      try {
        return tf.tidy(() => {
          const x = tf.tensor4d(randomArray(2 * 9 * 7 * c.ci, 21), [2, 9, 7, c.ci]);
          const w = tf.tensor4d(randomArray(c.k * c.k * c.ci * c.co, 22, -0.5, 0.5), [c.k, c.k, c.ci, c.co]);
          const bias = tf.tensor1d(randomArray(c.co, 23, -0.2, 0.2));
          const r = tf.tensor4d(randomArray(2 * 9 * 7 * c.co, 24), [2, 9, 7, c.co]);
          const grads = tf.grads((xx: Tensor, ww: Tensor, bb: Tensor) => {
            const { activation, inputGrad, filterGrad } = c;
            const options = {
              bias: c.bias ? (bb as Tensor1D) : undefined,
              activation,
              inputGrad,
              filterGrad,
            };
            const y = conv2dSame(xx as Tensor4D, ww as Tensor4D, options);
            return tf.sum(tf.mul(c.bias ? y : tf.add(y, tf.mul(bb, 0)), r));
          })([x, w, bias]);
          return grads.map((g) => Array.from(new Uint32Array((g.dataSync() as Float32Array).buffer)));
        });
      } finally {
        if (!fused) tf.registerKernel(config);
      }
    };
    for (const c of cases) {
      it(`gives the bytes of the op-by-op gradient (${JSON.stringify(c)})`, async () => {
        await onBackend("wasm", () => undefined);
        expect(gradientBytes(c, true)).toEqual(gradientBytes(c, false));
      });
    }
    it.each(cases.filter((c) => c.filterGrad && c.co > 2))(
      "gives the same bytes where the SIMD tap kernels are unavailable (XNNPACK views; $ci -> $co, k $k)",
      async (c) => {
        await onBackend("wasm", () => undefined);
        const expected = gradientBytes(c, false);
        setTapKernelsEnabled(false);
        try {
          const profile = await profileKernels(() => {
            expect(gradientBytes(c, true)).toEqual(expected);
          });
          const kinds = new Set([...profile.byKernel.keys()].map((key) => key.split("|")[1]));
          expect(kinds).toContain("BatchMatMul");
          expect(kinds).not.toContain("TapProducts");
        } finally {
          setTapKernelsEnabled(true);
        }
      },
    );

    it("runs in place of the ops, and the profile lists the kernels it calls", async () => {
      await onBackend("wasm", () => undefined);
      const x = tf.tensor4d(randomArray(2 * 8 * 8 * 3, 31), [2, 8, 8, 3]);
      const w = tf.tensor4d(randomArray(3 * 3 * 3 * 4, 32), [3, 3, 3, 4]);
      const b = tf.tensor1d([0.1, 0.2, 0.3, 0.4]);
      const profile = await profileKernels(() => {
        tf.dispose(
          tf.grads((xx: Tensor, ww: Tensor, bb: Tensor) =>
            tf.sum(conv2dSame(xx as Tensor4D, ww as Tensor4D, { bias: bb as Tensor1D, activation: "relu" })),
          )([x, w, b]),
        );
      });
      // No pass is marked here, so every kernel counts as forward.
      const calls = Object.fromEntries([...profile.byKernel].map(([key, v]) => [key.split("|")[1], v.calls]));
      expect(calls).toMatchObject({
        FusedConv2D: 1,
        [CONV_BACKWARD_KERNEL]: 1,
        Step: 1,
        Conv2D: 1,
        TapProducts: 2, // the taps and the bias sum, our SIMD kernels on x and g in place
      });
      expect(calls.Transpose).toBeUndefined();
      expect(calls.PadV2).toBeUndefined();
      expect(calls.Slice).toBeUndefined();
      expect(calls.BatchMatMul).toBeUndefined();
      tf.dispose([x, w, b]);
    });
  });

  it("rejects even or non-square filters", () => {
    expect(() => conv2dSame(tf.zeros([1, 4, 4, 1]), tf.zeros([2, 2, 1, 1]))).toThrow(/odd size, got 2x2/);
  });
});

async function compareUnary(
  shape: number[],
  custom: (x: Tensor4D) => Tensor4D,
  reference: (x: Tensor4D) => Tensor4D,
  outShape: number[],
): Promise<void> {
  const size = shape.reduce((a, b) => a * b, 1);
  // Distinct values (a shuffled ramp) so max-pooling has no ties.
  const x = randomArray(size, 11).map((v, i) => v * 0.01 + i * 1e-3);
  const r = randomArray(
    outShape.reduce((a, b) => a * b, 1),
    12,
  );
  const run = (f: (x: Tensor4D) => Tensor4D) => () =>
    tf.tidy(() => {
      const tr = tf.tensor(r, outShape);
      const { value, grad } = tf.valueAndGrad((xx: Tensor) => tf.sum(tf.mul(f(xx as Tensor4D), tr)))(
        tf.tensor4d(x, shape as [number, number, number, number]),
      );
      return { value: value.dataSync()[0] as number, grad: grad.dataSync() };
    });
  const ref = await onBackend("cpu", run(reference));
  const got = await onBackend("wasm", run(custom));
  expect(Math.abs(got.value - ref.value)).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref.value)));
  expect(relativeError(got.grad, ref.grad)).toBeLessThan(TOL);
}

describe("maxPool2", () => {
  it("matches the cpu autodiff gradient of tf.maxPool", async () => {
    await compareUnary([2, 8, 6, 3], maxPool2, (x) => tf.maxPool(x, 2, 2, "valid"), [2, 4, 3, 3]);
  });
});

describe("upsample2", () => {
  it("matches the cpu autodiff gradient of nearest-neighbour resizing", async () => {
    // Reference: nearest upsampling as stack + reshape (the cpu ResizeNearestNeighborGrad kernel of
    // TensorFlow.js 4.22 mixes up batch entries when the batch is larger than 1).
    const repeat = (x: Tensor4D): Tensor4D => {
      const [b, h, w, c] = x.shape;
      const wide = tf.reshape(tf.stack([x, x], 3), [b, h, 2 * w, c]);
      return tf.reshape(tf.stack([wide, wide], 2), [b, 2 * h, 2 * w, c]);
    };
    await compareUnary([2, 4, 3, 3], upsample2, repeat, [2, 8, 6, 3]);
  });

  it("repeats every pixel in a 2x2 block", async () => {
    const out = await onBackend("wasm", () =>
      tf.tidy(() => Array.from(upsample2(tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1])).dataSync())),
    );
    expect(out).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  });
});

describe("matmulConst", () => {
  it("matches the cpu autodiff gradient of tf.matMul with a constant right operand", async () => {
    const x = randomArray(5 * 7, 21);
    const m = randomArray(7 * 3, 22);
    const r = randomArray(5 * 3, 23);
    const run = (custom: boolean) => () =>
      tf.tidy(() => {
        const matrix = createConstMatrix(m, 7, 3);
        const tr = tf.tensor2d(r, [5, 3]);
        const g = tf.grad((xx: Tensor) =>
          tf.sum(
            tf.mul(custom ? matmulConst(xx as Tensor2D, matrix) : tf.matMul(xx as Tensor2D, matrix.m), tr),
          ),
        )(tf.tensor2d(x, [5, 7]));
        const out = g.dataSync();
        matrix.m.dispose();
        matrix.mT.dispose();
        return out;
      });
    expect(
      relativeError(await onBackend("wasm", run(true)), await onBackend("cpu", run(false))),
    ).toBeLessThan(TOL);
  });
});
