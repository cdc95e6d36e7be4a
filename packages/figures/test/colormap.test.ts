import { describe, expect, it } from "vitest";
import { applyColormap, colormap } from "../src/colormap.ts";

const pixel = (rgba: Uint8Array, k: number) => [...rgba.subarray(4 * k, 4 * k + 4)];

describe("colormap", () => {
  it("wraps the cyclic phase map: -pi and +pi get the same colour, and nearby phases nearby colours", () => {
    const phases = [-Math.PI, Math.PI, -Math.PI + 0.01, Math.PI - 0.01, 0];
    const rgba = applyColormap(phases, { colormap: "sinebow", domain: [-Math.PI, Math.PI] });
    expect(pixel(rgba, 0)).toEqual(pixel(rgba, 1));
    const distance = (a: number, b: number) =>
      Math.max(...pixel(rgba, a).map((v, i) => Math.abs(v - pixel(rgba, b)[i]!)));
    expect(distance(2, 3)).toBeLessThan(8);
    expect(distance(0, 4)).toBeGreaterThan(100);
    // Past the domain a cyclic map goes round again.
    const beyond = applyColormap([0.5, 0.5 + 2 * Math.PI], {
      colormap: "sinebow",
      domain: [-Math.PI, Math.PI],
    });
    expect(pixel(beyond, 0)).toEqual(pixel(beyond, 1));
  });

  it("does not wrap a sequential map: its ends differ, and values outside clamp to them", () => {
    const rgba = applyColormap([0, 1, -5, 7], { colormap: "viridis", domain: [0, 1] });
    expect(pixel(rgba, 0)).toEqual([0x44, 0x01, 0x54, 255]); // viridis' dark purple
    expect(pixel(rgba, 1)).toEqual([0xfd, 0xe7, 0x25, 255]); // and its yellow
    expect(pixel(rgba, 2)).toEqual(pixel(rgba, 0));
    expect(pixel(rgba, 3)).toEqual(pixel(rgba, 1));
  });

  it("centres the diverging map: zero is near white, negative blue, positive red", () => {
    const rgba = applyColormap([-1, 0, 1], { colormap: "redblue", domain: [-1, 1] });
    const [blue, white, red] = [0, 1, 2].map((k) => pixel(rgba, k));
    expect(Math.min(...white!.slice(0, 3))).toBeGreaterThan(230);
    expect(blue![2]).toBeGreaterThan(blue![0]!);
    expect(red![0]).toBeGreaterThan(red![2]!);
  });

  it("leaves NaN and masked-out pixels transparent", () => {
    const rgba = applyColormap([0.5, Number.NaN, 0.5], {
      colormap: "viridis",
      domain: [0, 1],
      mask: [1, 1, 0],
    });
    expect([pixel(rgba, 0)[3], pixel(rgba, 1)[3], pixel(rgba, 2)[3]]).toEqual([255, 0, 0]);
  });

  it("gives colour-bar stops that match the pixels", () => {
    const stops = colormap("viridis").stops(5);
    expect(stops).toHaveLength(5);
    const rgba = applyColormap([0, 0.5, 1], { colormap: "viridis", domain: [0, 1] });
    const hex = (k: number) =>
      `#${pixel(rgba, k)
        .slice(0, 3)
        .map((v) => v.toString(16).padStart(2, "0"))
        .join("")}`;
    expect([stops[0], stops[2], stops[4]]).toEqual([hex(0), hex(1), hex(2)]);
    // A cyclic map's colour bar ends where it starts.
    const cyclic = colormap("sinebow").stops(9);
    expect(cyclic[0]).toBe(cyclic[8]);
  });

  it("refuses a domain it cannot map", () => {
    expect(() =>
      applyColormap([1], { colormap: "viridis", domain: [1, 1] }),
    ).toThrowErrorMatchingInlineSnapshot(
      `[FigureError: applyColormap: domain must be two finite values, low < high; got [1, 1].]`,
    );
    expect(() =>
      applyColormap([1, 2], { colormap: "viridis", domain: [0, 1], mask: [1] }),
    ).toThrowErrorMatchingInlineSnapshot(
      `[FigureError: applyColormap: the mask has 1 values and the image 2.]`,
    );
  });
});
