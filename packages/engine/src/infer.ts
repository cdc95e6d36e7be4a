// Embedded inference: load the bundle, predict object patches in batches, stitch them into the full
// object by scan position (averaging overlaps, honouring middleTrim), and write the reconstruction,
// images and, when the test data has the true object, PSNR/SSIM after removing the global phase.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type ModelBundle, readModelBundle, saveNpz } from "@trainkit/data";
import type { ExecutionConfig } from "@trainkit/execution-config";
import type { InferenceConfig, ModelConfig } from "@trainkit/training-config";
import { ENGINE_VERSION } from "./capabilities.ts";
import { groupScanData, loadScanData, type ScanData } from "./dataset.ts";
import { encodePng, toGrey } from "./png.ts";
import { psnr, ssim } from "./quality.ts";
import { decodeState } from "./state.ts";
import { initBackend } from "./tf/backend.ts";
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

/** The stitched object: complex values on a canvas, and how many patches covered each pixel. */
export interface Stitched {
  readonly width: number;
  readonly height: number;
  readonly re: Float32Array;
  readonly im: Float32Array;
  readonly counts: Float32Array;
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

/** Runs a trained model over test data and stitches the object (results do not depend on the batch size). */
export async function reconstruct(
  bundle: ModelBundle,
  data: ScanData,
  options: {
    readonly batchSize: number;
    readonly middleTrim: number;
    readonly seed: number;
    readonly signal?: AbortSignal;
  },
): Promise<{ stitched: Stitched; trained: TrainingConfigSections; bundleFile: string }> {
  const trained = (bundle.payload as { config: TrainingConfigSections }).config;
  const bytes = bundle.weights.get("weights/weights.bin");
  if (!bytes)
    throw new Error(`${bundle.file} has no weights/weights.bin; was it written by the embedded engine?`);
  const state = decodeState(bytes, `${bundle.file}:weights/weights.bin`);
  const model = createPtychoModel(
    { model: trained.model, training: trained.training },
    data.probe,
    options.seed,
    {
      intensityScale: state.meta.intensityScale as number,
      meanTotalIntensity: state.meta.meanTotalIntensity as number | undefined,
    },
  );
  loadModelArrays(model, state.arrays, bundle.file);
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
  const counts = new Float32Array(width * height);
  const t = options.middleTrim;
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
          const m = indices[(start + b) * C + c]!;
          const cx = Math.floor(data.x[m]! + 0.5) - N / 2;
          const cy = Math.floor(data.y[m]! + 0.5) - N / 2;
          for (let i = t; i < N - t; i++) {
            const y = cy + i;
            if (y < 0 || y >= height) continue;
            for (let j = t; j < N - t; j++) {
              const x = cx + j;
              if (x < 0 || x >= width) continue;
              const k = ((b * N + i) * N + j) * C + c;
              const a = amplitude[k]!;
              const p = phase[k]!;
              const at = y * width + x;
              re[at]! += a * Math.cos(p);
              im[at]! += a * Math.sin(p);
              counts[at]! += 1;
            }
          }
        }
      }
    }
  } finally {
    model.dispose();
  }
  for (let k = 0; k < counts.length; k++) {
    if (counts[k]! > 0) {
      re[k]! /= counts[k]!;
      im[k]! /= counts[k]!;
    }
  }
  return { stitched: { width, height, re, im, counts }, trained, bundleFile: bundle.file };
}

/** PSNR and SSIM of amplitude and phase over the scanned region, after removing the global phase offset. */
export function reconstructionQuality(
  stitched: Stitched,
  truth: NonNullable<ScanData["object"]>,
): Record<string, number> {
  const { width, height, re, im, counts } = stitched;
  let sr = 0;
  let si = 0;
  for (let k = 0; k < counts.length; k++) {
    if (!counts[k]) continue;
    // recon * conj(truth)
    sr += re[k]! * truth.re[k]! + im[k]! * truth.im[k]!;
    si += im[k]! * truth.re[k]! - re[k]! * truth.im[k]!;
  }
  const offset = Math.atan2(si, sr);
  const amp = new Float32Array(counts.length);
  const phase = new Float32Array(counts.length);
  const trueAmp = new Float32Array(counts.length);
  const truePhase = new Float32Array(counts.length);
  const cos = Math.cos(-offset);
  const sin = Math.sin(-offset);
  for (let k = 0; k < counts.length; k++) {
    const r = re[k]! * cos - im[k]! * sin;
    const i = re[k]! * sin + im[k]! * cos;
    amp[k] = Math.hypot(r, i);
    phase[k] = Math.atan2(i, r);
    trueAmp[k] = Math.hypot(truth.re[k]!, truth.im[k]!);
    truePhase[k] = Math.atan2(truth.im[k]!, truth.re[k]!);
  }
  return {
    amplitudePsnr: psnr(amp, trueAmp, counts),
    amplitudeSsim: ssim(amp, trueAmp, counts, width, height),
    phasePsnr: psnr(phase, truePhase, counts),
    phaseSsim: ssim(phase, truePhase, counts, width, height),
    globalPhaseOffset: offset,
  };
}

function scaled(values: Float32Array, mask: Float32Array): Uint8Array {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < values.length; k++) {
    if (!mask[k]) continue;
    lo = Math.min(lo, values[k]!);
    hi = Math.max(hi, values[k]!);
  }
  return toGrey(values, lo, hi, mask);
}

/** Reconstructs the object of an inference payload into `runDir`. */
export async function infer(context: EngineContext): Promise<EngineResult> {
  const { inference, execution } = context.payload.config as InferenceSections;
  const backend = await initBackend("wasm");
  const data = await loadScanData(inference.testDataFile);
  const started = performance.now();
  const bundle = await readModelBundle(inference.modelPath, { weights: true });
  const trainedBatch = (bundle.payload as { config: TrainingConfigSections }).config.training.batchSize;
  const batchSize = execution.inferenceBatchSize ?? trainedBatch;
  let result: Awaited<ReturnType<typeof reconstruct>>;
  try {
    result = await reconstruct(bundle, data, {
      batchSize,
      middleTrim: execution.middleTrim,
      seed: execution.seed,
      signal: context.signal,
    });
  } catch (error) {
    if (context.signal.aborted) return { status: "interrupted" };
    throw error;
  }
  const seconds = (performance.now() - started) / 1000;
  const { stitched } = result;
  const { width, height, re, im, counts } = stitched;
  const amplitude = new Float32Array(re.length);
  const phase = new Float32Array(re.length);
  const object = new Float32Array(re.length * 2);
  for (let k = 0; k < re.length; k++) {
    amplitude[k] = Math.hypot(re[k]!, im[k]!);
    phase[k] = Math.atan2(im[k]!, re[k]!);
    object[2 * k] = re[k]!;
    object[2 * k + 1] = im[k]!;
  }
  const { runDir } = context;
  await saveNpz(join(runDir, "reconstruction.npz"), {
    object: { dtype: "c8", shape: [height, width], data: object },
    amplitude: { dtype: "f4", shape: [height, width], data: amplitude },
    phase: { dtype: "f4", shape: [height, width], data: phase },
    coverage: { dtype: "f4", shape: [height, width], data: counts },
  });
  await writeFile(join(runDir, "amplitude.png"), encodePng(width, height, scaled(amplitude, counts), 1));
  await writeFile(join(runDir, "phase.png"), encodePng(width, height, scaled(phase, counts), 1));
  const quality = data.object ? reconstructionQuality(stitched, data.object) : undefined;
  const metrics = {
    patterns: data.M,
    batchSize,
    seconds,
    samplesPerSecond: data.M / Math.max(seconds, 1e-9),
    ...(quality ?? {}),
  };
  await writeFile(join(runDir, "metrics.json"), `${JSON.stringify(metrics, null, 2)}\n`);
  return {
    status: "succeeded",
    details: { computeBackend: backend.backend, engineVersion: ENGINE_VERSION, ...metrics },
    outputs: {
      reconstruction: "reconstruction.npz",
      amplitude: "amplitude.png",
      phase: "phase.png",
      metrics: "metrics.json",
    },
  };
}
