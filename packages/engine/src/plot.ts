// The figures a run writes to its directory, drawn by @trainkit/figures (vega-lite specs rendered
// to SVG by vega, and to PNG by resvg; both are imported there when the first figure is drawn).
// A figure that cannot be drawn is a warning, never a failed run: the model and the numbers matter
// more than their pictures.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  amplitudeFigureSpec,
  comparisonFigureSpec,
  type EpochMetrics,
  lossCurveSpec,
  phaseFigureSpec,
  renderPng,
  renderSvg,
  wrapPhase,
} from "@trainkit/figures";

/** Where a figure went: output name -> file in the run directory. */
export type FigureOutputs = Record<string, string>;

/** Writes `<name>.svg` and `<name>.png`; returns the outputs written (warning about any it could not draw). */
async function writeFigure(
  runDir: string,
  name: string,
  label: string,
  spec: () => Record<string, unknown>,
  warn: (message: string) => void,
): Promise<FigureOutputs> {
  let svg: string;
  try {
    svg = await renderSvg(spec());
    await writeFile(join(runDir, `${name}.svg`), svg);
  } catch (error) {
    warn(`could not draw ${name}.svg and ${name}.png: ${(error as Error).message}`);
    return {};
  }
  try {
    await writeFile(join(runDir, `${name}.png`), await renderPng(svg));
  } catch (error) {
    // The PNG renderer is a native addon: a platform without it still gets the SVG.
    warn(`could not draw ${name}.png (${name}.svg is written): ${(error as Error).message}`);
    return { [`${label}, SVG`]: `${name}.svg` };
  }
  return { [label]: `${name}.png`, [`${label}, SVG`]: `${name}.svg` };
}

/**
 * `loss.svg` and `loss.png`: train and validation loss per epoch (each as its change since its
 * first epoch when the values are large, as a Poisson NLL in counts is), the learning rate below.
 */
export async function writeLossCurve(
  runDir: string,
  history: readonly EpochMetrics[],
  warn: (message: string) => void,
): Promise<FigureOutputs> {
  if (history.length === 0) return {};
  return writeFigure(runDir, "loss", "loss curve", () => lossCurveSpec(history), warn);
}

/** What inference hands over to draw: the stitched object's polar form over its canvas. */
export interface ReconstructionImages {
  readonly width: number;
  readonly height: number;
  readonly amplitude: Float32Array;
  readonly phase: Float32Array;
  /** The scanned region (1 inside): figures show its bounding box and colour only it. */
  readonly region: Uint8Array;
  /** The true object on the same canvas, when the test data has `objectGuess`. */
  readonly truth?: { readonly re: Float32Array; readonly im: Float32Array } | undefined;
  /** The global phase offset and amplitude scale that align the reconstruction to the truth (as scored). */
  readonly alignment?: { readonly globalPhaseOffset?: number; readonly amplitudeScale?: number } | undefined;
}

/**
 * `amplitude.{svg,png}` (viridis over the 1st-99th percentile of the scanned region),
 * `phase.{svg,png}` (a cyclic map over [-pi, pi]), each with a colour bar and cropped to the scanned
 * region, and with the truth `comparison.{svg,png}`: truth | reconstruction | error for amplitude
 * and phase, the reconstruction aligned to the truth as the scores are.
 */
export async function writeReconstructionImages(
  runDir: string,
  images: ReconstructionImages,
  warn: (message: string) => void,
): Promise<FigureOutputs> {
  const { width, height, region: mask } = images;
  const options = { width, height, mask };
  const outputs: FigureOutputs = {
    ...(await writeFigure(
      runDir,
      "amplitude",
      "amplitude",
      () => amplitudeFigureSpec(images.amplitude, options),
      warn,
    )),
    ...(await writeFigure(runDir, "phase", "phase", () => phaseFigureSpec(images.phase, options), warn)),
  };
  const { truth, alignment } = images;
  if (!truth) return outputs;
  const n = width * height;
  const scale = alignment?.amplitudeScale ?? 1;
  const offset = alignment?.globalPhaseOffset ?? 0;
  const trueAmplitude = new Float32Array(n);
  const truePhase = new Float32Array(n);
  const amplitude = new Float32Array(n);
  const phase = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    trueAmplitude[k] = Math.hypot(truth.re[k]!, truth.im[k]!);
    truePhase[k] = Math.atan2(truth.im[k]!, truth.re[k]!);
    amplitude[k] = images.amplitude[k]! * scale;
    phase[k] = wrapPhase(images.phase[k]! - offset);
  }
  return {
    ...outputs,
    ...(await writeFigure(
      runDir,
      "comparison",
      "comparison",
      () =>
        comparisonFigureSpec(
          { amplitude: trueAmplitude, phase: truePhase },
          { amplitude, phase },
          {
            ...options,
            title:
              "truth | reconstruction | error (reconstruction aligned: global phase removed, amplitude scaled)",
          },
        ),
      warn,
    )),
  };
}
