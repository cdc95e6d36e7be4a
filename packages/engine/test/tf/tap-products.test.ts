// Our SIMD tap-product kernels (assembly/tap-products.ts) read the NHWC input and output gradient in
// place in the backend's memory. They must give the bytes of the filter gradient as TensorFlow.js ops
// (XNNPACK matrix products over zero-padded windows) for every remainder of channels (4-channel
// blocks and single channels) and outputs (8, 4 and single columns; one and two outputs), whatever
// the split of units between threads and the rows per chunk; and the embedded build is what the
// AssemblyScript compiler makes of the source.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { TensorInfo } from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import {
  compileTapProducts,
  renderTapProductsModule,
  TAP_PRODUCTS_MODULE,
} from "../../../../scripts/wasm.ts";
import { TAP_CHUNK, tapKernels } from "../../src/tf/internal/tap-products.ts";
import type { WasmBackendView } from "../../src/tf/internal/wasm-kernels.ts";
import { convFilterGrad } from "../../src/tf/ops.ts";
import { tf } from "../../src/tf/tfjs.ts";
import { onBackend, randomArray } from "./helpers.ts";

const ROOT = join(import.meta.dirname, "../../../..");
const bitsOf = (a: Float32Array) => Array.from(new Uint32Array(a.slice().buffer));

describe("tap-product kernels", () => {
  it("embed exactly what asc compiles from assembly/tap-products.ts", () => {
    expect(readFileSync(join(ROOT, TAP_PRODUCTS_MODULE), "utf8")).toBe(
      renderTapProductsModule(compileTapProducts()),
    );
  }, 60_000);

  const shapes = [
    { ci: 32, co: 32, b: 2, h: 9, w: 70, k: 3 },
    { ci: 9, co: 13, b: 1, h: 11, w: 20, k: 3 },
    { ci: 1, co: 16, b: 2, h: 7, w: 9, k: 3 },
    { ci: 6, co: 3, b: 3, h: 8, w: 8, k: 3 },
    { ci: 4, co: 12, b: 1, h: 10, w: 6, k: 5 },
    // One and two outputs: against the ops' stacked product of shifted output gradients.
    { ci: 16, co: 1, b: 2, h: 12, w: 12, k: 3 },
    { ci: 7, co: 2, b: 2, h: 9, w: 5, k: 3 },
  ];
  it.each(shapes)(
    "give the ops' bytes for taps and bias sums ($ci -> $co channels, $b x $h x $w, k $k)",
    async ({ ci, co, b, h, w, k }) => {
      await onBackend("wasm", () => undefined);
      const backend = tf.backend() as unknown as WasmBackendView;
      const kernels = tapKernels(backend.wasm);
      expect(kernels).not.toBeNull();
      const x = tf.tensor4d(randomArray(b * h * w * ci, 41), [b, h, w, ci]);
      const g = tf.tensor4d(randomArray(b * h * w * co, 42), [b, h, w, co]);
      const made: TensorInfo[] = [];
      const zeros = (n: number) => {
        const t = backend.makeOutput([n], "float32");
        made.push(t);
        backend.typedArrayFromHeap(t).fill(0);
        return t;
      };
      const ptr = (t: TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset;
      const read = (t: TensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;
      try {
        const expected = tf.tidy(() => {
          const { dw, db } = convFilterGrad(x, g, k);
          return { dw: dw.dataSync() as Float32Array, db: db.dataSync() as Float32Array };
        });
        const units = k * k * Math.ceil(ci / 4);
        const half = Math.floor(units / 2);
        // Two halves of the units (as the two threads run them), and chunks of one row, of the
        // default size and of the whole batch: the same bytes.
        for (const chunk of [TAP_CHUNK, 1, 100_000]) {
          const dw = zeros(k * k * ci * co);
          kernels!.tapProducts(ptr(x), ptr(g), ptr(dw), ci, co, k, b, h, w, 0, half, chunk);
          kernels!.tapProducts(ptr(x), ptr(g), ptr(dw), ci, co, k, b, h, w, half, units, chunk);
          expect(bitsOf(read(dw)), `chunk ${chunk}`).toEqual(bitsOf(expected.dw));
        }
        const db = zeros(co);
        kernels!.columnSums(ptr(g), ptr(db), co, b * h * w);
        expect(bitsOf(read(db))).toEqual(bitsOf(expected.db));
        expect(expected.dw.some((v) => v !== 0)).toBe(true);
      } finally {
        for (const t of made) backend.disposeData(t.dataId);
        x.dispose();
        g.dispose();
      }
    },
  );
});
