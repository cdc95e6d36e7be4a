// Our SIMD tap-product kernels (assembly/tap-products.ts) against XNNPACK's matrix product on the
// same operands in the backend's memory: the same bytes for every remainder of channels (4-row
// blocks and single rows) and outputs (8, 4 and single columns), over several position chunks; and
// the embedded build is what the AssemblyScript compiler makes of the source.
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
import { tf } from "../../src/tf/tfjs.ts";
import { onBackend, randomArray } from "./helpers.ts";

const ROOT = join(import.meta.dirname, "../../../..");
const MATMUL_ARGS = ["number", "array", "number", "number", "array", "number", "number", "number", "number"];
const shapeBytes = (s: readonly number[]) => new Uint8Array(new Int32Array(s).buffer);
const bits = (backend: WasmBackendView, t: TensorInfo) =>
  Array.from(new Uint32Array((backend.typedArrayFromHeap(t) as Float32Array).slice().buffer));

describe("tap-product kernels", () => {
  it("embed exactly what asc compiles from assembly/tap-products.ts", () => {
    expect(readFileSync(join(ROOT, TAP_PRODUCTS_MODULE), "utf8")).toBe(
      renderTapProductsModule(compileTapProducts()),
    );
  }, 60_000);

  const shapes = [
    { ci: 32, co: 32, len: 1000 },
    { ci: 9, co: 13, len: 700 },
    { ci: 1, co: 16, len: 300 },
    { ci: 6, co: 3, len: 257 },
    { ci: 4, co: 12, len: 100 },
  ];
  it.each(shapes)(
    "give XNNPACK's bytes for taps and bias sums ($ci -> $co channels, $len positions)",
    async ({ ci, co, len }) => {
      await onBackend("wasm", () => undefined);
      const backend = tf.backend() as unknown as WasmBackendView & { dataIdNextNumber: number };
      const kernels = tapKernels(backend.wasm);
      expect(kernels).not.toBeNull();
      const offsets = [0, 1, 2, 7, 8, 9, 14, 15, 16];
      const T = offsets.length;
      const made: TensorInfo[] = [];
      const make = (shape: number[], dtype = "float32") => {
        const t = backend.makeOutput(shape, dtype);
        made.push(t);
        return t;
      };
      try {
        const x = make([(ci + 1) * len]);
        backend.typedArrayFromHeap(x).set(randomArray((ci + 1) * len, 41));
        const g = make([len * co]);
        backend.typedArrayFromHeap(g).set(randomArray(len * co, 42));
        const ptr = (t: TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset;
        const id = (t: TensorInfo) => backend.dataIdMap.get(t.dataId).id;
        // XNNPACK: one product per tap on views of x and of the output, then ones x g.
        const matmul = backend.wasm.cwrap("BatchMatMul", null, MATMUL_ARGS);
        const expected = make([T * ci * co]);
        for (const [t, offset] of offsets.entries()) {
          const a = backend.dataIdNextNumber++;
          const o = backend.dataIdNextNumber++;
          backend.wasm.tfjs.registerTensor(a, ci * len, ptr(x) + 4 * offset);
          backend.wasm.tfjs.registerTensor(o, ci * co, ptr(expected) + 4 * t * ci * co);
          matmul(a, shapeBytes([1, ci, len]), 3, id(g), shapeBytes([1, len, co]), 3, 0, 0, o);
          backend.wasm.tfjs.disposeData(a);
          backend.wasm.tfjs.disposeData(o);
        }
        const ones = make([len]);
        backend.typedArrayFromHeap(ones).fill(1);
        const expectedSums = make([co]);
        matmul(
          id(ones),
          shapeBytes([1, 1, len]),
          3,
          id(g),
          shapeBytes([1, len, co]),
          3,
          0,
          0,
          id(expectedSums),
        );
        // Ours, in two halves of the units to show that a split computes the same bytes.
        const offs = make([T], "int32");
        backend.typedArrayFromHeap(offs).set(offsets);
        const dw = make([T * ci * co]);
        backend.typedArrayFromHeap(dw).fill(0);
        const units = T * Math.ceil(ci / 4);
        const half = Math.floor(units / 2);
        kernels!.tapProducts(ptr(x), ptr(g), ptr(dw), ptr(offs), ci, co, len, 0, half, TAP_CHUNK);
        kernels!.tapProducts(ptr(x), ptr(g), ptr(dw), ptr(offs), ci, co, len, half, units, TAP_CHUNK);
        const db = make([co]);
        backend.typedArrayFromHeap(db).fill(0);
        kernels!.columnSums(ptr(g), ptr(db), co, len);
        expect(bits(backend, dw)).toEqual(bits(backend, expected));
        expect(bits(backend, db)).toEqual(bits(backend, expectedSums));
        expect(bits(backend, dw).some((v) => v !== 0)).toBe(true);
      } finally {
        for (const t of made) backend.disposeData(t.dataId);
      }
    },
  );
});
