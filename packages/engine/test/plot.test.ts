import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeLossCurve, writeReconstructionImages } from "../src/plot.ts";

const tempDir = () => mkdtempSync(join(tmpdir(), "trainkit-plot-"));

// A 40x30 canvas scanned in its middle 20x10; the truth is the reconstruction turned by 0.5 rad
// and halved, which the alignment undoes.
const W = 40;
const H = 30;
const n = W * H;
const region = Uint8Array.from({ length: n }, (_, k) =>
  k % W >= 10 && k % W < 30 && k / W >= 10 && k / W < 20 ? 1 : 0,
);
const amplitude = Float32Array.from({ length: n }, (_, k) => 1 + 0.5 * Math.sin(k / 7));
const phase = Float32Array.from({ length: n }, (_, k) => Math.sin(k / 13));
const truth = {
  re: Float32Array.from({ length: n }, (_, k) => 0.5 * amplitude[k]! * Math.cos(phase[k]! - 0.5)),
  im: Float32Array.from({ length: n }, (_, k) => 0.5 * amplitude[k]! * Math.sin(phase[k]! - 0.5)),
};

describe("writeReconstructionImages", () => {
  it("writes amplitude, phase and the comparison as SVG and PNG", async () => {
    const dir = tempDir();
    const warnings: string[] = [];
    const outputs = await writeReconstructionImages(
      dir,
      {
        width: W,
        height: H,
        amplitude,
        phase,
        region,
        truth,
        alignment: { globalPhaseOffset: 0.5, amplitudeScale: 0.5 },
      },
      (m) => warnings.push(m),
    );
    expect(warnings).toEqual([]);
    expect(outputs).toEqual({
      amplitude: "amplitude.png",
      "amplitude, SVG": "amplitude.svg",
      phase: "phase.png",
      "phase, SVG": "phase.svg",
      comparison: "comparison.png",
      "comparison, SVG": "comparison.svg",
    });
    expect(readdirSync(dir).sort()).toEqual(Object.values(outputs).sort());
    // Aligned, the reconstruction is the truth: the errors are rounding, so their colour bars are tiny.
    const svg = readFileSync(join(dir, "comparison.svg"), "utf8");
    expect(svg).toContain("phase error");
    const errorBars = [
      ...svg.matchAll(
        /Gradient legend titled 'error(?: \(rad\))?' for \w+ color with values from (\S+) to (\S+)"/g,
      ),
    ];
    expect(errorBars).toHaveLength(2);
    for (const bar of errorBars) expect(Math.abs(Number(bar[2]!.replace("−", "-")))).toBeLessThan(1e-5);
  });

  it("writes no comparison without the truth, and warns instead of failing when a figure cannot be drawn", async () => {
    const dir = tempDir();
    const warnings: string[] = [];
    expect(
      Object.keys(
        await writeReconstructionImages(dir, { width: W, height: H, amplitude, phase, region }, (m) =>
          warnings.push(m),
        ),
      ),
    ).toEqual(["amplitude", "amplitude, SVG", "phase", "phase, SVG"]);
    const empty = await writeReconstructionImages(
      tempDir(),
      { width: W, height: H, amplitude, phase, region: new Uint8Array(n) },
      (m) => warnings.push(m),
    );
    expect(empty).toEqual({});
    expect(warnings).toMatchInlineSnapshot(`
      [
        "could not draw amplitude.svg and amplitude.png: regionBox: the mask of the 40x30 image selects no pixel.",
        "could not draw phase.svg and phase.png: regionBox: the mask of the 40x30 image selects no pixel.",
      ]
    `);
  });
});

describe("writeLossCurve", () => {
  it("writes loss.svg and loss.png with the learning rate, and nothing for no epoch", async () => {
    const dir = tempDir();
    const history = [0, 1, 2].map((epoch) => ({
      epoch,
      train_loss: 10 - epoch,
      val_loss: 11 - epoch,
      lr: 1e-3,
    }));
    expect(await writeLossCurve(dir, history, () => {})).toEqual({
      "loss curve": "loss.png",
      "loss curve, SVG": "loss.svg",
    });
    expect(readFileSync(join(dir, "loss.svg"), "utf8")).toContain("learning rate");
    expect(readFileSync(join(dir, "loss.png")).subarray(1, 4).toString()).toBe("PNG");
    expect(await writeLossCurve(tempDir(), [], () => {})).toEqual({});
  });
});
