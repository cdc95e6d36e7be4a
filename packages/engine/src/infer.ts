// Embedded inference: load the bundle, predict object patches in batches, stitch them into the full
// object by scan position (averaging overlaps, honouring middleTrim), and write the reconstruction,
// images and, when the test data has the true object, PSNR/SSIM after removing the global phase.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type ModelBundle, readModelBundle, saveNpz } from "@trainkit/data";
import type { ExecutionConfig } from "@trainkit/execution-config";
import type { InferenceConfig, ModelConfig } from "@trainkit/training-config";
import { ENGINE_VERSION } from "./capabilities.ts";
import { startCompute } from "./compute.ts";
import { groupScanData, loadScanData, type ScanData } from "./dataset.ts";
import { writeReconstructionImages } from "./plot.ts";
import { psnr, ssim } from "./quality.ts";
import { decodeState } from "./state.ts";
import { createPtychoModel } from "./tf/model.ts";
import { tf } from "./tf/tfjs.ts";
import {
  type EngineContext,
  type EngineResult,
  loadModelArrays,
  type TrainingConfigSections,
} from "./train.ts";

interface InferenceSections {
  readonly model: ModelConfig;
  readonly inference: InferenceConfig;
  readonly execution: ExecutionConfig;
}

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

export type PatchWeighting = "probe" | "uniform";

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
): Promise<{ stitched: Stitched; trained: TrainingConfigSections; bundleFile: string }> {
  const trained = (bundle.payload as { config: TrainingConfigSections }).config;
  const bytes = bundle.weights.get("weights/weights.bin");
  if (!bytes)
    throw new Error(`${bundle.file} has no weights/weights.bin; was it written by the embedded engine?`);
  const state = decodeState(bytes, `${bundle.file}:weights/weights.bin`);
  const initial = options.weights === "initial";
  const model = createPtychoModel(
    { model: trained.model, training: trained.training },
    data.probe,
    initial ? trained.execution.seed : options.seed,
    {
      intensityScale: state.meta.intensityScale as number,
      meanTotalIntensity: state.meta.meanTotalIntensity as number | undefined,
    },
  );
  if (!initial) loadModelArrays(model, state.arrays, bundle.file);
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
function polar(
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

/**
 * PSNR and SSIM of amplitude and phase over the scanned region, after removing the global phase
 * offset and, for the amplitude, the global scale (least squares): with a learned intensity scale the
 * object's overall amplitude is not identifiable from the data, as a global phase is not.
 */
export function reconstructionQuality(
  stitched: Stitched,
  truth: NonNullable<ScanData["object"]>,
): Record<string, number> {
  const { width, height, re, im } = stitched;
  const mask = scannedRegion(stitched);
  let sr = 0;
  let si = 0;
  for (let k = 0; k < mask.length; k++) {
    if (!mask[k]) continue;
    // recon * conj(truth)
    sr += re[k]! * truth.re[k]! + im[k]! * truth.im[k]!;
    si += im[k]! * truth.re[k]! - re[k]! * truth.im[k]!;
  }
  const offset = Math.atan2(si, sr);
  const amp = new Float32Array(mask.length);
  const phase = new Float32Array(mask.length);
  const { amplitude: trueAmp, phase: truePhase } = polar(truth.re, truth.im);
  const cos = Math.cos(-offset);
  const sin = Math.sin(-offset);
  let cross = 0;
  let square = 0;
  for (let k = 0; k < mask.length; k++) {
    const r = re[k]! * cos - im[k]! * sin;
    const i = re[k]! * sin + im[k]! * cos;
    amp[k] = Math.hypot(r, i);
    phase[k] = Math.atan2(i, r);
    if (mask[k]) {
      cross += amp[k]! * trueAmp[k]!;
      square += amp[k]! ** 2;
    }
  }
  const amplitudeScale = square > 0 ? cross / square : 1;
  for (let k = 0; k < mask.length; k++) amp[k]! *= amplitudeScale;
  return {
    amplitudePsnr: psnr(amp, trueAmp, mask),
    amplitudeSsim: ssim(amp, trueAmp, mask, width, height),
    phasePsnr: psnr(phase, truePhase, mask),
    phaseSsim: ssim(phase, truePhase, mask, width, height),
    globalPhaseOffset: offset,
    amplitudeScale,
  };
}

/** Reconstructs the object of an inference payload into `runDir`. */
export async function infer(context: EngineContext): Promise<EngineResult> {
  const { inference, execution } = context.payload.config as InferenceSections;
  const compute = await startCompute(execution, context.env ?? process.env, (message) =>
    context.io.stderr(`trainkit-infer: warning: ${message}\n`),
  );
  const data = await loadScanData(inference.testDataFile);
  const started = performance.now();
  const bundle = await readModelBundle(inference.modelPath, { weights: true });
  const trainedBatch = (bundle.payload as { config: TrainingConfigSections }).config.training.batchSize;
  const batchSize = execution.inferenceBatchSize ?? trainedBatch;
  const options: ReconstructOptions = {
    batchSize,
    middleTrim: execution.middleTrim,
    patchWeighting: execution.patchWeighting,
    seed: execution.seed,
    signal: context.signal,
  };
  let result: Awaited<ReturnType<typeof reconstruct>>;
  let baseline: Stitched | undefined;
  let seconds: number;
  try {
    result = await reconstruct(bundle, data, options);
    seconds = (performance.now() - started) / 1000;
    // The same reconstruction from the weights training started from: what training bought.
    if (data.object)
      baseline = (await reconstruct(bundle, data, { ...options, weights: "initial" })).stitched;
  } catch (error) {
    if (context.signal.aborted) return { status: "interrupted" };
    throw error;
  }
  const { stitched } = result;
  const { width, height, re, im } = stitched;
  const { amplitude, phase } = polar(re, im);
  const object = new Float32Array(re.length * 2);
  for (let k = 0; k < re.length; k++) {
    object[2 * k] = re[k]!;
    object[2 * k + 1] = im[k]!;
  }
  const { runDir } = context;
  const region = scannedRegion(stitched);
  const grid = (values: Float32Array | Uint8Array) => ({
    dtype: "f4" as const,
    shape: [height, width],
    data: Float32Array.from(values),
  });
  await saveNpz(join(runDir, "reconstruction.npz"), {
    object: { dtype: "c8", shape: [height, width], data: object },
    amplitude: grid(amplitude),
    phase: grid(phase),
    illumination: grid(stitched.illumination),
    scanned: grid(region),
  });
  const quality = data.object ? reconstructionQuality(stitched, data.object) : undefined;
  const figures = await writeReconstructionImages(
    runDir,
    { width, height, amplitude, phase, region, truth: data.object, alignment: quality },
    (m) => context.io.stderr(`trainkit-infer: warning: ${m}\n`),
  );
  const untrained = baseline && data.object ? reconstructionQuality(baseline, data.object) : undefined;
  const metrics = {
    patterns: data.M,
    batchSize,
    patchWeighting: execution.patchWeighting,
    seconds,
    samplesPerSecond: data.M / Math.max(seconds, 1e-9),
    ...(quality ?? {}),
    ...(untrained ? { untrained } : {}),
  };
  await writeFile(join(runDir, "metrics.json"), `${JSON.stringify(metrics, null, 2)}\n`);
  return {
    status: "succeeded",
    details: {
      ...compute.details,
      engineVersion: ENGINE_VERSION,
      ...metrics,
    },
    outputs: {
      reconstruction: "reconstruction.npz",
      ...figures,
      metrics: "metrics.json",
    },
  };
}
