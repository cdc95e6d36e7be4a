// Embedded inference: load the bundle, reconstruct the object (stitch.ts), and write the
// reconstruction, images and, when the test data has the true object, PSNR/SSIM after removing the
// global phase (reconstruction-quality.ts), for the trained weights and for the initial ones.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readModelBundle, saveNpz } from "@trainkit/data";
import { trainedSections } from "./bundle.ts";
import { ENGINE_VERSION } from "./capabilities.ts";
import { startCompute } from "./compute.ts";
import { loadScanData } from "./dataset.ts";
import { writeReconstructionImages } from "./plot.ts";
import { reconstructionQuality } from "./reconstruction-quality.ts";
import { type EngineResult, type InferenceContext, warningsOf } from "./run-context.ts";
import { polar, type ReconstructOptions, reconstruct, type Stitched, scannedRegion } from "./stitch.ts";

/** Reconstructs the object of an inference payload into `runDir`. */
export async function infer(context: InferenceContext): Promise<EngineResult> {
  const { inference, execution } = context.payload.config;
  const compute = await startCompute(execution, context.env ?? process.env, warningsOf(context.io));
  const data = await loadScanData(inference.testDataFile);
  const started = performance.now();
  const bundle = await readModelBundle(inference.modelPath, { weights: true });
  const trainedBatch = trainedSections(bundle).training.batchSize;
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
    warningsOf(context.io),
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
