// Batches of groups as the model takes them, and the validation loss over every group of a dataset.
import type { GroupedData } from "../dataset.ts";
import type { LossWeights } from "../tf/losses.ts";
import type { PtychoModel } from "../tf/model.ts";
import { evaluate, type TrainingBatch } from "../tf/step.ts";
import { tf } from "../tf/tfjs.ts";

/** The tensors of the groups `indices` (their diffraction already gathered into `diffraction`). */
export function batchTensors(
  data: GroupedData,
  indices: Int32Array,
  diffraction: Float32Array,
  N: number,
  needsTruth: boolean,
): TrainingBatch {
  const { C, offsets } = data.grouping;
  const B = indices.length;
  const batchOffsets = new Float32Array(B * C * 2);
  for (let b = 0; b < B; b++) {
    const g = indices[b]!;
    for (let k = 0; k < C * 2; k++) batchOffsets[b * C * 2 + k] = offsets[g * C * 2 + k]!;
  }
  let groundTruth: TrainingBatch["groundTruth"];
  if (needsTruth && data.groundTruth) {
    const size = N * N * C;
    const re = new Float32Array(B * size);
    const im = new Float32Array(B * size);
    for (let b = 0; b < B; b++) {
      const g = indices[b]!;
      re.set(data.groundTruth.re.subarray(g * size, (g + 1) * size), b * size);
      im.set(data.groundTruth.im.subarray(g * size, (g + 1) * size), b * size);
    }
    groundTruth = { re: tf.tensor4d(re, [B, N, N, C]), im: tf.tensor4d(im, [B, N, N, C]) };
  }
  return {
    diffraction: tf.tensor4d(diffraction, [B, N, N, C]),
    ...(C > 1 ? { offsets: { data: batchOffsets, shape: [B, C, 2] } } : {}),
    ...(groundTruth ? { groundTruth } : {}),
  };
}

export function disposeBatch(batch: TrainingBatch): void {
  batch.diffraction.dispose();
  batch.groundTruth?.re.dispose();
  batch.groundTruth?.im.dispose();
}

/** The mean loss over every group of `data`, in batches of `batchSize` (no gradients). */
export function validationLoss(
  model: PtychoModel,
  data: GroupedData,
  N: number,
  batchSize: number,
  needsTruth: boolean,
  weights: LossWeights,
): number {
  const { C, nGroups: G } = data.grouping;
  const size = N * N * C;
  let sum = 0;
  for (let start = 0; start < G; start += batchSize) {
    const indices = Int32Array.from({ length: Math.min(batchSize, G - start) }, (_, i) => start + i);
    const batch = batchTensors(
      data,
      indices,
      data.diffraction.slice(start * size, (start + indices.length) * size),
      N,
      needsTruth,
    );
    sum += evaluate(model, batch, weights).loss * indices.length;
    disposeBatch(batch);
  }
  return sum / Math.max(1, G);
}
