// Stitching: a trained model run over test data in batches, its object patches placed by scan
// position on one canvas (probe-weighted average of the overlaps, honouring middleTrim), and the
// region the scan lit.
import type { ModelBundle } from "@trainkit/data";
import type { ExecutionConfig } from "@trainkit/execution-config";
import { trainedSections } from "./bundle.ts";
import { groupScanData, type ScanData } from "./dataset.ts";
import { bundleModel } from "./model-weights.ts";
import type { TrainingSections } from "./run-context.ts";
import { tf } from "./tf/tfjs.ts";

/** The stitched object: complex values on a canvas, the stitching weights, and the lit region. */
export interface Stitched {
  readonly width: number;
  readonly height: number;
  readonly re: Float32Array;
  readonly im: Float32Array;
  /** Sum of the stitching weights that reached each pixel (0: no patch covered it). */
  readonly weights: Float32Array;
  /**
   * Sum over scan positions of the probe intensity relative to its peak, `sum |P|^2 / max |P|^2`:
   * how well each pixel was lit. The scanned region is where it reaches {@link LIT_THRESHOLD}.
   */
  readonly illumination: Float32Array;
}

/** Illumination (in units of the probe's peak intensity) from which a pixel counts as scanned. */
export const LIT_THRESHOLD = 0.25;

/** How a patch pixel enters the stitched average (execution `patchWeighting`). */
export type PatchWeighting = ExecutionConfig["patchWeighting"];

export interface ReconstructOptions {
  readonly batchSize: number;
  readonly middleTrim: number;
  readonly patchWeighting: PatchWeighting;
  readonly seed: number;
  /** `initial`: skip the trained weights and use the ones training started from (a baseline). */
  readonly weights?: "trained" | "initial";
  readonly signal?: AbortSignal;
}

/** Canvas size: the true object's when known, else the scan's extent plus a patch. */
function canvasOf(data: ScanData): { width: number; height: number } {
  if (data.object) return { width: data.object.W, height: data.object.H };
  let w = 0;
  let h = 0;
  for (let i = 0; i < data.M; i++) {
    w = Math.max(w, Math.floor(data.x[i]! + 0.5) + data.N / 2 + 1);
    h = Math.max(h, Math.floor(data.y[i]! + 0.5) + data.N / 2 + 1);
  }
  return { width: w, height: h };
}

/** Probe intensity relative to its peak, `[N * N]`. */
function probeIntensity(probe: ScanData["probe"]): Float32Array {
  const n = probe.N;
  const out = new Float32Array(n * n);
  let peak = 0;
  for (let k = 0; k < n * n; k++) {
    out[k] = probe.re[k]! ** 2 + probe.im[k]! ** 2;
    peak = Math.max(peak, out[k]!);
  }
  for (let k = 0; k < n * n; k++) out[k]! /= peak || 1;
  return out;
}

/**
 * Runs a trained model over test data and stitches the object (results do not depend on the batch
 * size). Each patch pixel enters the average with weight `|P|^2 / max |P|^2` (`probe`: the object is
 * known where the probe lit it, not outside) or 1 (`uniform`), and 0 within `middleTrim` of the edge.
 */
export async function reconstruct(
  bundle: ModelBundle,
  data: ScanData,
  options: ReconstructOptions,
): Promise<{ stitched: Stitched; trained: TrainingSections; bundleFile: string }> {
  const trained = trainedSections(bundle);
  const model = await bundleModel(bundle, data.probe, options.seed, options.weights ?? "trained");
  const N = data.N;
  const gridsize = trained.model.gridsize;
  const groups = groupScanData(
    data,
    gridsize,
    { ...trained.training, nGroups: data.M, enableOversampling: false, sequentialSampling: true },
    options.seed,
  );
  const { C, nGroups: G, indices, offsets } = groups.grouping;
  const { width, height } = canvasOf(data);
  const re = new Float32Array(width * height);
  const im = new Float32Array(width * height);
  const weights = new Float32Array(width * height);
  const illumination = new Float32Array(width * height);
  const lit = probeIntensity(data.probe);
  const t = options.middleTrim;
  const patchWeight = new Float32Array(N * N);
  for (let i = t; i < N - t; i++) {
    for (let j = t; j < N - t; j++)
      patchWeight[i * N + j] = options.patchWeighting === "probe" ? lit[i * N + j]! : 1;
  }
  // Illumination counts each scan position once, whatever the grouping.
  for (let m = 0; m < data.M; m++) {
    forEachPixel(data, m, width, height, (k, at) => {
      illumination[at]! += lit[k]!;
    });
  }
  const size = N * N * C;
  try {
    for (let start = 0; start < G; start += options.batchSize) {
      if (options.signal?.aborted) throw new Error("interrupted");
      const B = Math.min(options.batchSize, G - start);
      const diffraction = tf.tensor4d(groups.diffraction.subarray(start * size, (start + B) * size), [
        B,
        N,
        N,
        C,
      ]);
      const batchOffsets =
        C > 1 ? { data: offsets.subarray(start * C * 2, (start + B) * C * 2), shape: [B, C, 2] } : undefined;
      const prediction = model.predict(diffraction, batchOffsets);
      const amplitude = prediction.amplitude.dataSync();
      const phase = prediction.phase.dataSync();
      diffraction.dispose();
      prediction.amplitude.dispose();
      prediction.phase.dispose();
      for (let b = 0; b < B; b++) {
        for (let c = 0; c < C; c++) {
          forEachPixel(data, indices[(start + b) * C + c]!, width, height, (k, at) => {
            const w = patchWeight[k]!;
            if (w === 0) return;
            const a = amplitude[(b * N * N + k) * C + c]!;
            const p = phase[(b * N * N + k) * C + c]!;
            re[at]! += w * a * Math.cos(p);
            im[at]! += w * a * Math.sin(p);
            weights[at]! += w;
          });
        }
      }
    }
  } finally {
    model.dispose();
  }
  for (let k = 0; k < weights.length; k++) {
    if (weights[k]! > 0) {
      re[k]! /= weights[k]!;
      im[k]! /= weights[k]!;
    }
  }
  return { stitched: { width, height, re, im, weights, illumination }, trained, bundleFile: bundle.file };
}

/** Calls `fn(patchPixel, canvasPixel)` for every pixel of scan position `m`'s patch on the canvas. */
function forEachPixel(
  data: ScanData,
  m: number,
  width: number,
  height: number,
  fn: (k: number, at: number) => void,
): void {
  const N = data.N;
  const cx = Math.floor(data.x[m]! + 0.5) - N / 2;
  const cy = Math.floor(data.y[m]! + 0.5) - N / 2;
  for (let i = 0; i < N; i++) {
    const y = cy + i;
    if (y < 0 || y >= height) continue;
    for (let j = 0; j < N; j++) {
      const x = cx + j;
      if (x >= 0 && x < width) fn(i * N + j, y * width + x);
    }
  }
}

/** Modulus and argument of a complex image given as real and imaginary parts. */
export function polar(
  re: ArrayLike<number>,
  im: ArrayLike<number>,
): { amplitude: Float32Array; phase: Float32Array } {
  const amplitude = new Float32Array(re.length);
  const phase = new Float32Array(re.length);
  for (let k = 0; k < re.length; k++) {
    amplitude[k] = Math.hypot(re[k]!, im[k]!);
    phase[k] = Math.atan2(im[k]!, re[k]!);
  }
  return { amplitude, phase };
}

/** 1 where the scan lit the object well enough to judge it (and a patch reached it), else 0. */
export function scannedRegion(stitched: Stitched): Uint8Array {
  const mask = new Uint8Array(stitched.weights.length);
  for (let k = 0; k < mask.length; k++) {
    mask[k] = stitched.illumination[k]! >= LIT_THRESHOLD && stitched.weights[k]! > 0 ? 1 : 0;
  }
  return mask;
}
