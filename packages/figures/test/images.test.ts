import { describe, expect, it } from "vitest";
import { colormap } from "../src/colormap.ts";
import { amplitudeFigureSpec, comparisonFigureSpec, phaseFigureSpec, wrapPhase } from "../src/images.ts";
import { renderPng, renderSvg } from "../src/render.ts";
import { axisLabels, decodePng, distinctColours, texts } from "./helpers.ts";

// An 80x60 canvas scanned in a disc of radius 20 around (50, 30): the box is x 30-70, y 10-50.
const W = 80;
const H = 60;
const n = W * H;
const mask = new Uint8Array(n);
const truth = { amplitude: new Float32Array(n), phase: new Float32Array(n) };
const recon = { amplitude: new Float32Array(n), phase: new Float32Array(n) };
for (let y = 0; y < H; y++)
  for (let x = 0; x < W; x++) {
    const k = y * W + x;
    mask[k] = (x - 50) ** 2 + (y - 30) ** 2 <= 20 ** 2 ? 1 : 0;
    truth.amplitude[k] = 0.6 + 0.3 * Math.sin(x / 5) * Math.cos(y / 7);
    truth.phase[k] = wrapPhase(2.5 * Math.sin(x / 9 + y / 11));
    recon.amplitude[k] = truth.amplitude[k]! + 0.05 * Math.sin(x);
    recon.phase[k] = wrapPhase(truth.phase[k]! + 0.2 * Math.cos(y / 2));
  }
const options = { width: W, height: H, mask };

type Layer = {
  data: { values: Record<string, unknown>[] };
  encoding: Record<string, { scale?: { domain: number[] } }>;
};
type Panel = { title: string; width: number; height: number; layer: [Layer, Layer] };

const rasterOf = (panel: Panel) =>
  decodePng(Buffer.from(String(panel.layer[1].data.values[0]!.url).split(",")[1]!, "base64"));

describe("comparisonFigureSpec", () => {
  const spec = comparisonFigureSpec(truth, recon, options) as { vconcat: { hconcat: Panel[] }[] };
  const panels = spec.vconcat.flatMap((row) => row.hconcat);

  it("lays out truth | reconstruction | error for amplitude, then for phase", () => {
    expect(panels.map((p) => p.title)).toEqual([
      "truth amplitude",
      "reconstructed amplitude",
      "amplitude error",
      "truth phase",
      "reconstructed phase",
      "phase error",
    ]);
  });

  it("crops every panel to the scanned region, and colours only the scanned pixels", () => {
    for (const panel of panels) {
      const axes = panel.layer[0].encoding;
      expect(axes.x!.scale!.domain).toEqual([30, 71]);
      expect(axes.y!.scale!.domain).toEqual([10, 51]);
      const raster = rasterOf(panel);
      const factor = raster.width / 41;
      expect(Number.isInteger(factor) && raster.height === 41 * factor).toBe(true);
      // The box's corner lies outside the disc (transparent); its centre inside (opaque).
      expect(raster.rgba[3]).toBe(0);
      const centre = (20 * factor * raster.width + 20 * factor) * 4;
      expect(raster.rgba[centre + 3]).toBe(255);
    }
  });

  it("shares one amplitude range between truth and reconstruction; errors are centred on zero", () => {
    const colour = (p: Panel) => p.layer[0].encoding.color!.scale!.domain;
    expect(colour(panels[0]!)).toEqual(colour(panels[1]!));
    expect(colour(panels[3]!)).toEqual([-Math.PI, Math.PI]);
    const [lo, hi] = colour(panels[5]!) as [number, number];
    expect(lo).toBe(-hi);
    expect(hi).toBeCloseTo(0.2, 1);
  });

  it("renders with a colour bar per panel, and to a PNG that is not blank", async () => {
    const warnings: string[] = [];
    const svg = await renderSvg(spec, { warnings });
    expect(warnings).toEqual([]);
    expect(texts(svg, "role-legend-title")).toEqual([
      "amplitude",
      "amplitude",
      "error",
      "phase (rad)",
      "phase (rad)",
      "error (rad)",
    ]);
    expect(texts(svg, "role-legend-label").filter((l) => l.includes("π"))).toEqual([
      "−π",
      "−π/2",
      "π/2",
      "π",
      "−π",
      "−π/2",
      "π/2",
      "π",
    ]);
    const x = axisLabels(svg).find((a) => a.axis.startsWith("X-axis"))!;
    expect(x.labels.map(Number).every((v) => v >= 30 && v <= 71)).toBe(true);
    const png = decodePng(await renderPng(svg));
    const [, w, h] = /<svg[^>]* width="(\d+)" height="(\d+)"/.exec(svg)!.map(Number);
    expect([png.width, png.height]).toEqual([w! * 2, h! * 2]);
    expect(distinctColours(png)).toBeGreaterThan(500);
  });

  it("refuses images of another size than the mask", () => {
    expect(() =>
      comparisonFigureSpec({ ...truth, phase: new Float32Array(10) }, recon, options),
    ).toThrowErrorMatchingInlineSnapshot(
      `[FigureError: comparisonFigureSpec: truth phase: a 80x60 image has 4800 values, got 10.]`,
    );
  });
});

describe("phaseFigureSpec and amplitudeFigureSpec", () => {
  it("colour phase cyclically over [-pi, pi] and amplitude with viridis over the region's range", async () => {
    const phase = phaseFigureSpec(truth.phase, options) as unknown as Panel;
    const scale = phase.layer[0].encoding.color!.scale as unknown as { domain: number[]; range: string[] };
    expect(scale.domain).toEqual([-Math.PI, Math.PI]);
    expect(scale.range).toEqual(colormap("sinebow").stops(33));
    expect(scale.range[0]).toBe(scale.range.at(-1));
    const amplitude = amplitudeFigureSpec(truth.amplitude, options) as unknown as Panel;
    const [lo, hi] = amplitude.layer[0].encoding.color!.scale!.domain as [number, number];
    expect(lo).toBeGreaterThan(0.25);
    expect(hi).toBeLessThan(0.95);
    const warnings: string[] = [];
    await renderSvg(phase as unknown as Record<string, unknown>, { warnings });
    await renderSvg(amplitude as unknown as Record<string, unknown>, { warnings });
    expect(warnings).toEqual([]);
  });
});

describe("wrapPhase", () => {
  it("wraps into [-pi, pi)", () => {
    expect([wrapPhase(Math.PI), wrapPhase(-Math.PI), wrapPhase(3 * Math.PI + 0.5), wrapPhase(0.25)]).toEqual([
      -Math.PI,
      -Math.PI,
      expect.closeTo(-Math.PI + 0.5, 12),
      0.25,
    ]);
  });
});
