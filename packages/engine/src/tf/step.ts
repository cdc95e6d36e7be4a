/**
 * One training step's arithmetic: loss, its parts and the gradients of the trainable variables.
 * Optimisers, schedules and the epoch loop live elsewhere; they consume `grads`.
 */
import type { Scalar, Tensor, Tensor4D } from "@tensorflow/tfjs";
import { profileBackward, profileLayer } from "./internal/profile.ts";
import { computeLosses, DEFAULT_LOSS_WEIGHTS, type LossWeights } from "./losses.ts";
import type { PtychoModel } from "./model.ts";
import type { Complex } from "./ops.ts";
import type { PatchOffsets } from "./overlap.ts";
import { tf } from "./tfjs.ts";

export interface TrainingBatch {
  /** Diffraction amplitudes `[B, N, N, C]`. */
  readonly diffraction: Tensor4D;
  /** Relative scan offsets `[B, C, 2]` in pixels `(x, y)`; required when `C > 1`. */
  readonly offsets?: PatchOffsets | undefined;
  /** Ground-truth object patches `Y` `[B, N, N, C]` (supervised and real-space losses). */
  readonly groundTruth?: Complex<Tensor4D> | undefined;
}

export interface LossValues {
  /** The weighted total loss. */
  readonly loss: number;
  /** Unweighted loss terms (`nll`, `mae`, `realspaceMae`, or the supervised terms). */
  readonly parts: Readonly<Record<string, number>>;
}

export interface LossAndGradients extends LossValues {
  /** Gradient of `loss` for each trainable variable, by short name. The caller disposes them. */
  readonly grads: Map<string, Tensor>;
}

/**
 * Forward pass, losses and gradients of every trainable variable for one batch. Every intermediate
 * tensor is freed; only the returned gradients remain (the caller owns them).
 */
export function lossAndGradients(
  model: PtychoModel,
  batch: TrainingBatch,
  weights: LossWeights = DEFAULT_LOSS_WEIGHTS,
): LossAndGradients {
  const map = model.createPatchMap(batch.offsets, batch.diffraction.shape[0]);
  let parts: Record<string, Scalar> = {};
  try {
    const trainable = model.trainableVariables;
    const { value, grads } = tf.variableGrads(
      () => {
        const losses = batchLosses(model, batch, weights, map);
        parts = Object.fromEntries(Object.entries(losses.parts).map(([k, t]) => [k, tf.keep(t)]));
        profileBackward();
        return losses.total;
      },
      trainable.map((v) => v.variable),
    );
    const loss = readScalar(value);
    const byName = new Map<string, Tensor>();
    for (const v of trainable) {
      const grad = grads[v.variable.name];
      byName.set(v.name, grad ?? tf.zerosLike(v.variable));
    }
    return { loss, parts: readParts(parts, false), grads: byName };
  } finally {
    for (const t of Object.values(parts)) t.dispose();
    map?.dispose();
  }
}

/** The forward pass and the losses of one batch (inside a gradient or tidy scope). */
function batchLosses(
  model: PtychoModel,
  batch: TrainingBatch,
  weights: LossWeights,
  map: ReturnType<PtychoModel["createPatchMap"]>,
): ReturnType<typeof computeLosses> {
  const output = model.forward({ diffraction: batch.diffraction, patchMap: map });
  return profileLayer("losses", () =>
    computeLosses(
      output,
      batch,
      weights,
      model.initialIntensityScale,
      model.config.model.modelType === "supervised",
    ),
  );
}

/** Loss and parts for one batch without gradients (validation). */
export function evaluate(
  model: PtychoModel,
  batch: TrainingBatch,
  weights: LossWeights = DEFAULT_LOSS_WEIGHTS,
): LossValues {
  const map = model.createPatchMap(batch.offsets, batch.diffraction.shape[0]);
  try {
    return tf.tidy(() => {
      const losses = batchLosses(model, batch, weights, map);
      return { loss: losses.total.dataSync()[0] as number, parts: readParts(losses.parts, false) };
    });
  } finally {
    map?.dispose();
  }
}

function readScalar(t: Scalar): number {
  const v = t.dataSync()[0] as number;
  t.dispose();
  return v;
}

function readParts(parts: Readonly<Record<string, Scalar>>, dispose = true): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, t] of Object.entries(parts)) {
    out[k] = t.dataSync()[0] as number;
    if (dispose) t.dispose();
  }
  return out;
}
