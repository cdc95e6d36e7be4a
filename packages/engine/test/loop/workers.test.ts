import { describe, expect, it } from "vitest";
import { isLoopError } from "../../src/loop/errors.ts";
import { createRng } from "../../src/loop/rng.ts";
import {
  createBatchLoader,
  type PatternDataset,
  type PreparedBatch,
  planBatches,
} from "../../src/loop/workers.ts";
import { caught } from "./helpers.ts";

function dataset(count: number, n: number): PatternDataset {
  const rng = createRng(5);
  const data = new Float32Array(count * n * n);
  for (let i = 0; i < data.length; i++) data[i] = rng.normal() * 100;
  return { data, itemShape: [n, n] };
}

async function collect(iterable: AsyncIterable<PreparedBatch>): Promise<PreparedBatch[]> {
  const out: PreparedBatch[] = [];
  for await (const b of iterable) out.push(b);
  return out;
}

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe("planBatches", () => {
  it("splits a seeded permutation into batches, the last one short unless dropLast", () => {
    const plan = planBatches(10, 4, createRng(1));
    expect(plan.map((b) => b.length)).toEqual([4, 4, 2]);
    expect([...plan.flatMap((b) => [...b])].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(planBatches(10, 4, createRng(1))).toEqual(plan);
    expect(planBatches(10, 4, null, true).map((b) => [...b])).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
    ]);
  });
});

describe("createBatchLoader", () => {
  it("gives byte-identical batches, in order, with 0 and 2 workers", async () => {
    const ds = dataset(64, 8);
    const plan = planBatches(64, 6, createRng(9));
    const inline = createBatchLoader(ds, { numWorkers: 0, scale: 0.37 });
    const threaded = createBatchLoader(ds, { numWorkers: 2, scale: 0.37, prefetchFactor: 2 });
    try {
      const a = await collect(inline.batches(plan));
      const b = await collect(threaded.batches(plan));
      expect(b.map((x) => x.index)).toEqual(plan.map((_, i) => i));
      expect(b.map((x) => x.shape)).toEqual(plan.map((p) => [p.length, 8, 8]));
      for (let i = 0; i < plan.length; i++) {
        expect(bytes(b[i]!.data).equals(bytes(a[i]!.data))).toBe(true);
      }
      // The gather is right: batch 0, item 0 is pattern plan[0][0] scaled in float32.
      const first = plan[0]![0]!;
      expect(a[0]!.data[0]).toBe(Math.fround(ds.data[first * 64]! * 0.37));
      // A second epoch on the same (persistent) workers works too.
      const again = await collect(threaded.batches(plan.slice(0, 2)));
      expect(bytes(again[1]!.data).equals(bytes(a[1]!.data))).toBe(true);
    } finally {
      await threaded.close();
      await inline.close();
    }
  });

  it("copies values unchanged with scale 1 and leaves the dataset untouched", async () => {
    const ds = dataset(10, 2);
    const copy = ds.data.slice();
    const loader = createBatchLoader(ds, { numWorkers: 1 });
    try {
      const [b] = await collect(loader.batches([Int32Array.of(3, 1)]));
      expect(Array.from(b!.data)).toEqual([...ds.data.subarray(12, 16), ...ds.data.subarray(4, 8)]);
      expect(ds.data).toEqual(copy);
    } finally {
      await loader.close();
    }
  });

  it("recovers when a consumer stops early, without mixing up late answers", async () => {
    const ds = dataset(40, 4);
    const plan = planBatches(40, 2, createRng(3));
    const loader = createBatchLoader(ds, { numWorkers: 2, prefetchFactor: 4 });
    const inline = createBatchLoader(ds, { numWorkers: 0 });
    try {
      for await (const b of loader.batches(plan)) if (b.index === 1) break;
      const got = await collect(loader.batches(plan));
      const want = await collect(inline.batches(plan));
      for (let i = 0; i < plan.length; i++)
        expect(bytes(got[i]!.data).equals(bytes(want[i]!.data))).toBe(true);
    } finally {
      await loader.close();
      await inline.close();
    }
  });

  it("rejects an out-of-range index inline and in workers", async () => {
    const ds = dataset(4, 2);
    for (const numWorkers of [0, 1]) {
      const loader = createBatchLoader(ds, { numWorkers });
      try {
        const error = await caught(() => collect(loader.batches([Int32Array.of(0, 9)])));
        expect(isLoopError(error)).toBe(true);
        expect((error as Error).message).toMatch(/batch index 9 is outside the dataset of 4 items/);
      } finally {
        await loader.close();
      }
    }
  });

  it("rejects options that cannot work", async () => {
    const ds = dataset(4, 2);
    expect(((await caught(() => createBatchLoader(ds, { numWorkers: -1 }))) as Error).message).toBe(
      "numWorkers: must be a non-negative integer, got -1.",
    );
    expect(
      (
        (await caught(() =>
          createBatchLoader({ data: new Float32Array(5), itemShape: [2, 2] }, { numWorkers: 0 }),
        )) as Error
      ).message,
    ).toBe("dataset: 5 values do not divide into items of shape [2, 2].");
  });
});
