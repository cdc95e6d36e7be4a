import type { Tensor, Tensor2D, Tensor4D } from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../src/tf/backend.ts";
import { createOverlapAverage, createPatchExtraction, roundedRelativeOffsets } from "../../src/tf/overlap.ts";
import { tf } from "../../src/tf/tfjs.ts";
import { onBackend, randomArray, relativeError } from "./helpers.ts";

beforeAll(async () => {
  await initBackend("wasm");
});

const offsets = (values: number[], b: number, c: number) => ({ data: values, shape: [b, c, 2] });

/** The `[B, n, n, C]` tensor whose patch c has every pixel equal to `values[c]`. */
function constantPatches(values: number[], n: number): Tensor4D {
  const c = values.length;
  return tf.tensor4d(
    Array.from({ length: n * n * c }, (_, k) => values[k % c] as number),
    [1, n, n, c],
  );
}

/** Channel c of an NHWC `[1, n, n, C]` array as rows. */
function plane(data: ArrayLike<number>, n: number, c: number, channels: number): number[][] {
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => data[(i * n + j) * channels + c] as number),
  );
}

describe("roundedRelativeOffsets", () => {
  it("centres each group on its mean and rounds to whole pixels", () => {
    expect(Array.from(roundedRelativeOffsets(offsets([10, 5, 12.6, 5, 10, 9.2, 12, 9], 1, 4), 1, 4))).toEqual(
      [-1, -2, 1, -2, -1, 2, 1, 2],
    );
  });

  it("names the expected shape when the offsets do not fit", () => {
    expect(() => roundedRelativeOffsets(offsets([0, 0], 1, 1), 2, 1)).toThrow(
      "offsets: expected shape [2, 1, 2] (x, y in pixels), got [1, 1, 2].",
    );
  });
});

describe("createOverlapAverage", () => {
  it("averages two patches where they overlap and leaves the rest (crafted example)", async () => {
    // Patch 0 at x = 0, patch 1 at x = 2 (relative: -1 and +1): columns 2-3 of patch 0 are columns 0-1
    // of patch 1. Values 1 and 3 average to 2 in the overlap.
    const out = await onBackend("wasm", () =>
      tf.tidy(() => {
        const map = createOverlapAverage(offsets([0, 0, 2, 0], 1, 2), 1, 4, 2);
        const y = map.apply(constantPatches([1, 3], 4)).dataSync();
        map.dispose();
        return y;
      }),
    );
    expect(plane(out, 4, 0, 2)).toEqual(Array.from({ length: 4 }, () => [1, 1, 2, 2]));
    expect(plane(out, 4, 1, 2)).toEqual(Array.from({ length: 4 }, () => [2, 2, 3, 3]));
  });

  it("makes overlapping pixels of four patches agree (2x2 group, diagonal shifts)", async () => {
    const n = 6;
    const values = randomArray(n * n * 4, 3);
    const out = await onBackend("wasm", () =>
      tf.tidy(() => {
        // Positions (x, y): (0,0), (2,0), (0,2), (2,2).
        const map = createOverlapAverage(offsets([0, 0, 2, 0, 0, 2, 2, 2], 1, 4), 1, n, 4);
        const y = map.apply(tf.tensor4d(values, [1, n, n, 4])).dataSync();
        map.dispose();
        return y;
      }),
    );
    // Canvas pixel (row 3, col 3) is seen by all four patches: p0 (3,3), p1 (3,1), p2 (1,3), p3 (1,1).
    const at = (i: number, j: number, c: number) => out[(i * n + j) * 4 + c] as number;
    const src = (i: number, j: number, c: number) => values[(i * n + j) * 4 + c] as number;
    const mean = (src(3, 3, 0) + src(3, 1, 1) + src(1, 3, 2) + src(1, 1, 3)) / 4;
    for (const [i, j, c] of [
      [3, 3, 0],
      [3, 1, 1],
      [1, 3, 2],
      [1, 1, 3],
    ] as const) {
      expect(at(i, j, c)).toBeCloseTo(mean, 6);
    }
    // Corner (0,0) of patch 0 is seen only by patch 0.
    expect(at(0, 0, 0)).toBeCloseTo(src(0, 0, 0), 6);
  });

  it("has the cpu autodiff gradient of the same map as a dense matrix", async () => {
    const n = 5;
    const c = 4;
    const raw = [0, 0, 3, 1, 1, 3, 4, 4];
    const rel = roundedRelativeOffsets(offsets(raw, 1, c), 1, c);
    const size = n * n * c;
    // Dense matrix from the definition: out(cOut, i, j) = mean over patches covering that canvas pixel.
    const dense = new Float32Array(size * size);
    for (let co = 0; co < c; co++) {
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          const ci = i + (rel[co * 2 + 1] as number);
          const cj = j + (rel[co * 2] as number);
          const srcs: number[] = [];
          for (let s = 0; s < c; s++) {
            const si = ci - (rel[s * 2 + 1] as number);
            const sj = cj - (rel[s * 2] as number);
            if (si >= 0 && si < n && sj >= 0 && sj < n) srcs.push((si * n + sj) * c + s);
          }
          for (const s of srcs) dense[((i * n + j) * c + co) * size + s] = 1 / srcs.length;
        }
      }
    }
    const x = randomArray(size, 41);
    const r = randomArray(size, 42);
    const ref = await onBackend("cpu", () =>
      tf.tidy(() => {
        const m = tf.tensor2d(dense, [size, size]);
        const f = (v: Tensor) =>
          tf.sum(
            tf.mul(tf.matMul(m, tf.reshape(v, [size, 1]) as Tensor2D), tf.reshape(tf.tensor1d(r), [size, 1])),
          );
        const { value, grad } = tf.valueAndGrad(f)(tf.tensor1d(x));
        return { value: value.dataSync()[0] as number, grad: grad.dataSync() };
      }),
    );
    const got = await onBackend("wasm", () =>
      tf.tidy(() => {
        const map = createOverlapAverage(offsets(raw, 1, c), 1, n, c);
        const f = (v: Tensor) => tf.sum(tf.mul(map.apply(v as Tensor4D), tf.tensor4d(r, [1, n, n, c])));
        const { value, grad } = tf.valueAndGrad(f)(tf.tensor4d(x, [1, n, n, c]));
        const out = { value: value.dataSync()[0] as number, grad: grad.dataSync() };
        map.dispose();
        return out;
      }),
    );
    expect(Math.abs(got.value - ref.value)).toBeLessThan(1e-4);
    expect(relativeError(got.grad, ref.grad)).toBeLessThan(1e-5);
  });

  it("is the identity when every patch sits at the same position", async () => {
    const x = randomArray(2 * 4 * 4 * 4, 9);
    const out = await onBackend("wasm", () =>
      tf.tidy(() => {
        const map = createOverlapAverage(offsets(new Array(16).fill(3), 2, 4), 2, 4, 4);
        const y = map.apply(tf.tensor4d(x, [2, 4, 4, 4])).dataSync();
        map.dispose();
        return y;
      }),
    );
    // Four patches at one position average to one value per pixel.
    for (let p = 0; p < 2 * 16; p++) {
      const m = [0, 1, 2, 3].reduce((s, c) => s + (x[p * 4 + c] as number), 0) / 4;
      for (let c = 0; c < 4; c++) expect(out[p * 4 + c]).toBeCloseTo(m, 6);
    }
  });
});

describe("createPatchExtraction", () => {
  it("cuts each position's patch out of one centred patch, zero outside, with the transposed gradient", async () => {
    const n = 4;
    const single = Array.from({ length: n * n }, (_, k) => k + 1);
    const out = await onBackend("wasm", () =>
      tf.tidy(() => {
        // Relative offsets x = -1 and x = +1.
        const map = createPatchExtraction(offsets([0, 0, 2, 0], 1, 2), 1, n, 2);
        const x = tf.tensor4d(single, [1, n, n, 1]);
        const y = map.apply(x).dataSync();
        const g = tf
          .grad((v: Tensor) => tf.sum(map.apply(v as Tensor4D)))(x)
          .dataSync();
        map.dispose();
        return { y, g };
      }),
    );
    expect(plane(out.y, n, 0, 2)).toEqual([
      [0, 1, 2, 3],
      [0, 5, 6, 7],
      [0, 9, 10, 11],
      [0, 13, 14, 15],
    ]);
    expect(plane(out.y, n, 1, 2)).toEqual([
      [2, 3, 4, 0],
      [6, 7, 8, 0],
      [10, 11, 12, 0],
      [14, 15, 16, 0],
    ]);
    // d sum / d single = how many positions see each pixel: columns 0 and 3 once, 1 and 2 twice.
    expect(plane(out.g, n, 0, 1)).toEqual(Array.from({ length: n }, () => [1, 2, 2, 1]));
  });
});
