import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { assignSpatialFolds, isDataError, splitFold } from "../src/index.ts";

/** Scan positions: integer-ish coordinates (ties on purpose) or raw doubles, and a fold count that fits. */
const scanArb = fc
  .oneof(
    fc.array(fc.tuple(fc.integer({ min: -5, max: 5 }), fc.integer({ min: -5, max: 5 })), {
      minLength: 2,
      maxLength: 80,
    }),
    fc.array(
      fc.tuple(
        fc.double({ min: -1e3, max: 1e3, noNaN: true }),
        fc.double({ min: -1e3, max: 1e3, noNaN: true }),
      ),
      { minLength: 2, maxLength: 80 },
    ),
  )
  .chain((points) =>
    fc.record({ points: fc.constant(points), k: fc.integer({ min: 2, max: points.length }) }),
  );

describe("assignSpatialFolds", () => {
  it("puts every position in exactly one fold, sizes within one, blocks in order along the axis", () => {
    fc.assert(
      fc.property(scanArb, ({ points, k }) => {
        const x = Float64Array.from(points, (p) => p[0]);
        const y = Float64Array.from(points, (p) => p[1]);
        const folds = assignSpatialFolds(x, y, k);
        expect(folds.folds.length).toBe(points.length);
        const counts = new Array<number>(k).fill(0);
        for (const f of folds.folds) {
          expect(f >= 0 && f < k).toBe(true);
          counts[f]!++;
        }
        expect(counts).toEqual(folds.sizes);
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
        expect(counts.reduce((a, b) => a + b, 0)).toBe(points.length);
        // Longer extent: the stripe axis.
        const extent = (c: Float64Array) => Math.max(...c) - Math.min(...c);
        expect(folds.axis).toBe(extent(x) >= extent(y) ? "x" : "y");
        const along = folds.axis === "x" ? x : y;
        for (let f = 0; f < k; f++) {
          const mine = [...along].filter((_, i) => folds.folds[i] === f);
          expect(Math.min(...mine)).toBe(folds.bounds[f]!.min);
          expect(Math.max(...mine)).toBe(folds.bounds[f]!.max);
          if (f > 0) expect(folds.bounds[f - 1]!.max).toBeLessThanOrEqual(folds.bounds[f]!.min);
        }
        // splitFold partitions the positions.
        const { train, validation } = splitFold(folds, k - 1);
        expect(validation.length).toBe(counts[k - 1]);
        expect(new Set([...train, ...validation]).size).toBe(points.length);
      }),
      { numRuns: 300 },
    );
  });

  it("cuts a 4x3 raster into stripes across x, ties broken by y", () => {
    // Row-major raster scan: x = 0..3, y = 0..2 (x is the longer extent).
    const x = Float64Array.from({ length: 12 }, (_, i) => i % 4);
    const y = Float64Array.from({ length: 12 }, (_, i) => Math.floor(i / 4));
    const folds = assignSpatialFolds(x, y, 3);
    expect(folds.axis).toBe("x");
    expect(folds.sizes).toEqual([4, 4, 4]);
    // Sorted by (x, y): column x=0 (3 positions) then the first of column x=1 (y=0) form fold 0.
    expect([...folds.folds]).toEqual([0, 0, 1, 2, 0, 1, 1, 2, 0, 1, 2, 2]);
    expect(folds.bounds).toEqual([
      { min: 0, max: 1 },
      { min: 1, max: 2 },
      { min: 2, max: 3 },
    ]);
    expect([...splitFold(folds, 1).validation]).toEqual([2, 5, 6, 9]);
  });

  it("stripes across y when the scan is taller than wide", () => {
    const folds = assignSpatialFolds([0, 1, 0, 1], [0, 0, 10, 10], 2);
    expect(folds.axis).toBe("y");
    expect([...folds.folds]).toEqual([0, 0, 1, 1]);
  });

  it.each([
    [[0, 1], [0, 1], 1, "foldCount must be an integer of at least 2, got 1."],
    [[0, 1], [0, 1], 3, "foldCount 3 exceeds the 2 scan positions: every fold needs at least one."],
    [[0, 1], [0], 2, "xcoords and ycoords must have the same length, got 2 and 1."],
    [[0, Number.NaN], [0, 1], 2, "scan position 1 is not finite: (NaN, 1)."],
  ] as const)("refuses bad input (%j, %j, %d)", (x, y, k, message) => {
    let error: unknown;
    try {
      assignSpatialFolds(x, y, k);
    } catch (e) {
      error = e;
    }
    expect(isDataError(error, "INVALID_OPTIONS")).toBe(true);
    expect((error as Error).message).toBe(message);
  });

  it("refuses a fold index out of range", () => {
    expect(() => splitFold(assignSpatialFolds([0, 1, 2], [0, 0, 0], 3), 3)).toThrow(
      "foldIndex must be one of 0..2, got 3.",
    );
  });
});
