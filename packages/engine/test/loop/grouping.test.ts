import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isLoopError } from "../../src/loop/errors.ts";
import { type GroupingOptions, groupPositions, nearestNeighbors } from "../../src/loop/grouping.ts";
import { createRng } from "../../src/loop/rng.ts";
import { caught, messageOf } from "./helpers.ts";

/** A jittered raster scan of `side` x `side` positions, 10 px apart. */
function raster(side: number, seed = 1): { x: Float64Array; y: Float64Array } {
  const rng = createRng(seed);
  const x = new Float64Array(side * side);
  const y = new Float64Array(side * side);
  for (let i = 0; i < side * side; i++) {
    x[i] = (i % side) * 10 + rng.uniform(-2, 2);
    y[i] = Math.floor(i / side) * 10 + rng.uniform(-2, 2);
  }
  return { x, y };
}

function base(x: Float64Array, y: Float64Array, extra: Partial<GroupingOptions> = {}): GroupingOptions {
  return { x, y, gridsize: 2, neighborCount: 6, nGroups: 20, subsampleSeed: 7, ...extra };
}

/** Brute-force K nearest (self first, ties by index). */
function bruteNearest(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  q: number,
  k: number,
  pool: number[],
): number[] {
  return pool
    .map((i) => ({ i, d: i === q ? -1 : (x[i]! - x[q]!) ** 2 + (y[i]! - y[q]!) ** 2 }))
    .sort((a, b) => a.d - b.d || a.i - b.i)
    .slice(0, k)
    .map((e) => e.i);
}

function groupsOf(r: { indices: Int32Array; C: number; nGroups: number }): number[][] {
  return Array.from({ length: r.nGroups }, (_, g) => [...r.indices.subarray(g * r.C, (g + 1) * r.C)]);
}

describe("nearestNeighbors", () => {
  it("agrees with brute force on random points, including duplicates and ties", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 8 })), {
          minLength: 1,
          maxLength: 60,
        }),
        fc.integer({ min: 1, max: 8 }),
        (pts, kWanted) => {
          const x = Float64Array.from(pts, (p) => p[0]);
          const y = Float64Array.from(pts, (p) => p[1]);
          const k = Math.min(kWanted, pts.length);
          const nn = nearestNeighbors(x, y, k);
          const all = pts.map((_, i) => i);
          for (let q = 0; q < pts.length; q++) {
            expect([...nn.subarray(q * k, (q + 1) * k)]).toEqual(bruteNearest(x, y, q, k, all));
          }
        },
      ),
    );
  });
});

describe("groupPositions", () => {
  it("makes each group one position when gridsize is 1, capping nGroups at M with a warning", () => {
    const { x, y } = raster(4);
    const r = groupPositions({ ...base(x, y), gridsize: 1, nGroups: 50 });
    expect(r.C).toBe(1);
    expect(r.nGroups).toBe(16);
    expect([...r.indices].sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    expect(Array.from(r.offsets).every((v) => v === 0)).toBe(true);
    expect(r.warnings).toMatchInlineSnapshot(`
      [
        "nGroups (50) exceeds the 16 available scan positions; using 16 groups (set enableOversampling to reuse positions).",
      ]
    `);
  });

  it("reuses every position evenly when gridsize is 1 and oversampling is enabled", () => {
    const { x, y } = raster(3);
    const r = groupPositions({ ...base(x, y), gridsize: 1, nGroups: 20, enableOversampling: true });
    expect(r.nGroups).toBe(20);
    const uses = new Array(9).fill(0);
    for (const i of r.indices) uses[i]++;
    expect(Math.max(...uses) - Math.min(...uses)).toBeLessThanOrEqual(1);
    expect(r.warnings).toEqual([]);
  });

  it("takes the first positions in scan order when sequentialSampling is set", () => {
    const { x, y } = raster(4);
    const r = groupPositions({ ...base(x, y), gridsize: 1, nGroups: 5, sequentialSampling: true });
    expect([...r.indices]).toEqual([0, 1, 2, 3, 4]);
  });

  it("draws groups of C distinct positions from a seed's K nearest neighbours, sorted ascending", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 9 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 1, max: 100 }),
        fc.nat(1000),
        fc.boolean(),
        (side, gridsize, extraK, nGroups, seed, sequential) => {
          const { x, y } = raster(side, seed + 1);
          const C = gridsize * gridsize;
          const K = Math.min(C + extraK, side * side);
          const r = groupPositions({
            x,
            y,
            gridsize,
            neighborCount: K,
            nGroups,
            subsampleSeed: seed,
            sequentialSampling: sequential,
          });
          expect(r.nGroups).toBe(Math.min(nGroups, side * side));
          const all = Array.from({ length: side * side }, (_, i) => i);
          for (const [g, group] of groupsOf(r).entries()) {
            expect(new Set(group).size).toBe(C);
            expect(group).toEqual([...group].sort((a, b) => a - b));
            // The group lies within its seed's K nearest neighbours.
            const near = new Set(bruteNearest(x, y, r.seeds[g]!, K, all));
            expect(group.every((i) => near.has(i))).toBe(true);
            // Offsets are coordinates minus the centre: they sum to zero.
            let sx = 0;
            let sy = 0;
            for (let c = 0; c < C; c++) {
              const i = group[c]!;
              const ox = r.offsets[2 * (g * C + c)]!;
              const oy = r.offsets[2 * (g * C + c) + 1]!;
              expect(ox + r.centers[2 * g]!).toBeCloseTo(x[i]!, 9);
              expect(oy + r.centers[2 * g + 1]!).toBeCloseTo(y[i]!, 9);
              sx += ox;
              sy += oy;
            }
            expect(Math.abs(sx) + Math.abs(sy)).toBeLessThan(1e-9);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("is deterministic for a seed and changes with the seed", () => {
    const { x, y } = raster(10);
    const a = groupPositions(base(x, y));
    const b = groupPositions(base(x, y));
    const c = groupPositions({ ...base(x, y), subsampleSeed: 8 });
    expect(a.indices).toEqual(b.indices);
    expect(a.offsets).toEqual(b.offsets);
    expect(a.indices).not.toEqual(c.indices);
  });

  it("groups only subsampled positions, and the subsample does not depend on nGroups", () => {
    const { x, y } = raster(10);
    const small = groupPositions({ ...base(x, y), nSubsample: 30, nGroups: 5 });
    const large = groupPositions({ ...base(x, y), nSubsample: 30, nGroups: 25 });
    expect(small.pool.length).toBe(30);
    expect(small.pool).toEqual(large.pool);
    const pool = new Set(small.pool);
    for (const i of large.indices) expect(pool.has(i)).toBe(true);
    const sequential = groupPositions({ ...base(x, y), nSubsample: 30, sequentialSampling: true });
    expect([...sequential.pool]).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it("oversamples beyond M from the neighbour pool without repeating a seed's subset while others remain", () => {
    const { x, y } = raster(4);
    const r = groupPositions({
      ...base(x, y),
      neighborCount: 4,
      nGroups: 64,
      enableOversampling: true,
      neighborPoolSize: 6,
    });
    expect(r.nGroups).toBe(64);
    // 16 seeds x 4 uses each; C(6, 4) = 15 subsets per seed, so no group repeats for one seed.
    const keys = groupsOf(r).map((g) => g.join(","));
    const perSeed = new Map<number, Set<string>>();
    for (const [g, key] of keys.entries()) {
      const set = perSeed.get(r.seeds[g]!) ?? new Set();
      set.add(key);
      perSeed.set(r.seeds[g]!, set);
    }
    expect([...perSeed.values()].map((s) => s.size)).toEqual(new Array(16).fill(4));
    const all = Array.from({ length: 16 }, (_, i) => i);
    for (const [g, group] of groupsOf(r).entries()) {
      const near = new Set(bruteNearest(x, y, r.seeds[g]!, 6, all));
      expect(group.every((i) => near.has(i))).toBe(true);
    }
  });

  it("throws INVALID_GROUPING with the fix when K < C or there are too few positions", async () => {
    const { x, y } = raster(4);
    const error = await caught(() => groupPositions({ ...base(x, y), gridsize: 3, neighborCount: 4 }));
    expect(isLoopError(error, "INVALID_GROUPING")).toBe(true);
    expect(messageOf(error)).toMatchInlineSnapshot(
      `"neighborCount: must be >= gridsize^2 (9) to draw a group of 9 from the nearest neighbours, got 4; raise neighborCount or lower gridsize."`,
    );
    expect(
      messageOf(await caught(() => groupPositions({ ...base(x, y), nSubsample: 3 }))),
    ).toMatchInlineSnapshot(
      `"gridsize 2 needs at least 4 scan positions per group, but only 3 are available (nSubsample 3)."`,
    );
    expect(
      messageOf(await caught(() => groupPositions({ ...base(x, y), y: new Float64Array(3) }))),
    ).toMatchInlineSnapshot(`"x and y must have the same length, got 16 and 3."`);
  });

  it("groups 10^4 positions in well under 200 ms", () => {
    const { x, y } = raster(100);
    groupPositions({ ...base(x, y), nGroups: 100 }); // warm-up
    // Best of three, so a busy machine does not fail the budget.
    let best = Number.POSITIVE_INFINITY;
    for (let run = 0; run < 3; run++) {
      const t0 = performance.now();
      const r = groupPositions({ ...base(x, y), nGroups: 10000, neighborCount: 7 });
      best = Math.min(best, performance.now() - t0);
      expect(r.nGroups).toBe(10000);
    }
    expect(best).toBeLessThan(200);
  });
});
