import { describe, expect, it } from "vitest";
import { cropToBox, quantileDomain, regionBox } from "../src/region.ts";

// A 6x4 canvas whose scanned region is columns 1-3 of rows 1-2.
const W = 6;
const H = 4;
const mask = Uint8Array.from({ length: W * H }, (_, k) => {
  const [x, y] = [k % W, Math.floor(k / W)];
  return x >= 1 && x <= 3 && y >= 1 && y <= 2 ? 1 : 0;
});
const values = Float64Array.from({ length: W * H }, (_, k) => k);

describe("regionBox", () => {
  it("is the bounding box of the scanned pixels", () => {
    expect(regionBox(mask, W, H)).toEqual({ x: 1, y: 1, width: 3, height: 2 });
    const corner = new Uint8Array(W * H);
    corner[W * H - 1] = 1;
    expect(regionBox(corner, W, H)).toEqual({ x: 5, y: 3, width: 1, height: 1 });
  });

  it("refuses an empty region and a mask of another size", () => {
    expect(() => regionBox(new Uint8Array(W * H), W, H)).toThrowErrorMatchingInlineSnapshot(
      `[FigureError: regionBox: the mask of the 6x4 image selects no pixel.]`,
    );
    expect(() => regionBox(mask, 5, 4)).toThrowErrorMatchingInlineSnapshot(
      `[FigureError: regionBox: a 5x4 image has 20 pixels, the mask 24.]`,
    );
  });
});

describe("cropToBox", () => {
  it("keeps the box's values, row by row", () => {
    expect([...cropToBox(values, W, regionBox(mask, W, H))]).toEqual([7, 8, 9, 13, 14, 15]);
  });
});

describe("quantileDomain", () => {
  it("ignores stray values and everything outside the region", () => {
    const inside = Float64Array.from({ length: 200 }, (_, i) => i / 199);
    inside[0] = -1000;
    inside[199] = 1000;
    const [lo, hi] = quantileDomain(inside, undefined);
    expect(lo).toBeGreaterThan(0);
    expect(hi).toBeLessThan(1);
    expect(quantileDomain(values, mask, 0, 1)).toEqual([7, 15]);
  });

  it("widens a constant image", () => {
    expect(quantileDomain([2, 2, 2], undefined)).toEqual([1.9, 2.1]);
  });
});
