import { describe, expect, it } from "vitest";
import { chooseLossAxisMode, type EpochMetrics, formatLoss, lossCurveSpec } from "../src/loss-curve.ts";
import { renderPng, renderSvg } from "../src/render.ts";
import { axisLabels, decodePng, distinctColours, texts } from "./helpers.ts";

// The first epochs of the demo (Poisson NLL in photon counts): train and validation are sums over
// different data, 178,000 apart, and each falls by a few thousand.
const DEMO: EpochMetrics[] = [
  [-3741944.47, -3564157.8],
  [-3742567.82, -3564662.95],
  [-3742812.05, -3564759.5],
  [-3742876.55, -3564856.05],
  [-3743014.5, -3565279.3],
  [-3743530.47, -3565827.4],
  [-3743900.9, -3566223.85],
  [-3744467.58, -3567302.3],
].map(([train, val], epoch) => ({ epoch, train_loss: train, val_loss: val, lr: 0.001 }));

const svgOf = async (history: readonly EpochMetrics[], options?: Parameters<typeof lossCurveSpec>[1]) => {
  const warnings: string[] = [];
  const svg = await renderSvg(lossCurveSpec(history, options), { warnings });
  expect(warnings).toEqual([]);
  return svg;
};

const yLabels = (svg: string, title: string) =>
  axisLabels(svg).find((a) => a.axis === `Y-axis titled '${title}'`)!.labels;

describe("lossCurveSpec", () => {
  it("draws each large loss as its change since its first epoch, with short distinct tick labels", async () => {
    const svg = await svgOf(DEMO);
    const labels = yLabels(svg, "change in loss since the first epoch");
    expect(labels.length).toBeGreaterThanOrEqual(4);
    expect(new Set(labels).size).toBe(labels.length);
    for (const label of labels) expect(label.length, label).toBeLessThanOrEqual(6);
    expect(labels).toContain("0");
    // The subtitle keeps the absolute values of the reference epoch.
    expect(svg).toContain("train −3,741,944 at epoch 0, validation −3,564,158 at epoch 0");
  });

  it("keeps both series and the learning rate", async () => {
    const spec = lossCurveSpec(DEMO) as { vconcat: { data: { values: Record<string, unknown>[] } }[] };
    const [loss, lr] = spec.vconcat;
    const series = loss!.data.values.map((r) => r.series);
    expect(series.filter((s) => s === "train")).toHaveLength(8);
    expect(series.filter((s) => s === "validation")).toHaveLength(8);
    expect(loss!.data.values[7]).toEqual({
      epoch: 7,
      series: "train",
      loss: -3744467.58,
      change: expect.closeTo(-2523.11, 6),
    });
    expect(lr!.data.values).toHaveLength(8);
    const svg = await svgOf(DEMO);
    expect(texts(svg, "role-legend-label")).toEqual(["train", "validation"]);
    expect(texts(svg, "role-title-text")).toEqual(["loss per epoch", "learning rate"]);
    expect(yLabels(svg, "lr")).toEqual(["0", "0.0005", "0.001"]);
  });

  it("shows why: the absolute values of the same losses make long labels", async () => {
    const labels = yLabels(await svgOf(DEMO, { mode: "absolute" }), "loss");
    expect(new Set(labels).size).toBe(labels.length);
    expect(Math.min(...labels.map((l) => l.length))).toBeGreaterThanOrEqual(9);
  });

  it("keeps small losses absolute, and draws the learning rate on a log scale when it spans a decade", async () => {
    const history = Array.from({ length: 12 }, (_, epoch) => ({
      epoch,
      train_loss: 0.5 / (1 + epoch),
      lr: 1e-3 * 0.5 ** epoch,
    }));
    expect(chooseLossAxisMode([history.map((h) => h.train_loss)])).toBe("absolute");
    const svg = await svgOf(history);
    const labels = yLabels(svg, "loss");
    expect(new Set(labels).size).toBe(labels.length);
    expect(labels).toContain("0.5");
    expect(svg).toContain("for a log scale");
    expect(texts(svg, "role-legend-label")).toEqual(["train"]);
  });

  it("draws one epoch and epochs without validation", async () => {
    const svg = await svgOf([{ epoch: 3, train_loss: -12.5, lr: 0.01 }]);
    expect(yLabels(svg, "loss").length).toBeGreaterThan(1);
    expect(axisLabels(svg)[0]!.labels).toEqual(["3", "4"]);
  });

  it("refuses a history without a finite training loss", () => {
    expect(() => lossCurveSpec([{ epoch: 0, train_loss: Number.NaN }])).toThrowErrorMatchingInlineSnapshot(
      `[FigureError: lossCurveSpec: no epoch of the 1 given has a finite train_loss.]`,
    );
  });
});

describe("formatLoss", () => {
  it("groups digits and writes a true minus", () => {
    expect([formatLoss(-3741944.466), formatLoss(0.0012345), formatLoss(12)]).toEqual([
      "−3,741,944",
      "0.0012345",
      "12",
    ]);
  });
});

describe("renderPng", () => {
  it("renders the loss curve to a PNG at twice the SVG's size, with text and both colours", async () => {
    const svg = await svgOf(DEMO);
    const [, w, h] = /<svg[^>]* width="(\d+)" height="(\d+)"/.exec(svg)!.map(Number);
    const png = decodePng(await renderPng(svg));
    expect([png.width, png.height]).toEqual([w! * 2, h! * 2]);
    expect(distinctColours(png)).toBeGreaterThan(50);
    const has = (r: number, g: number, b: number) => {
      for (let k = 0; k < png.width * png.height; k++)
        if (png.rgba[4 * k] === r && png.rgba[4 * k + 1] === g && png.rgba[4 * k + 2] === b) return true;
      return false;
    };
    expect(has(0x1f, 0x77, 0xb4)).toBe(true);
    expect(has(0xff, 0x7f, 0x0e)).toBe(true);
  });

  it("draws the text with a font: a label-only SVG is not blank", async () => {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="80" height="20"><rect width="80" height="20" fill="white"/><text x="2" y="15" font-family="DejaVu Sans" font-size="12">epoch 12</text></svg>`;
    expect(distinctColours(decodePng(await renderPng(svg)))).toBeGreaterThan(2);
    // Without any font the same SVG is only its white background: what the check above guards.
    expect(distinctColours(decodePng(await renderPng(svg, { loadSystemFonts: false })))).toBe(1);
  });

  it("refuses a scale out of range and SVG it cannot read", async () => {
    await expect(renderPng("<svg/>", { scale: 0 })).rejects.toThrowErrorMatchingInlineSnapshot(
      `[FigureError: renderPng: scale must be in (0, 16], got 0.]`,
    );
    await expect(renderPng("not svg")).rejects.toMatchObject({ name: "FigureError", code: "RENDER_FAILED" });
  });
});
