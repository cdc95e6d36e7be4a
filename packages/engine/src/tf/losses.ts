/**
 * Training losses, as upstream PtychoPINN defines them (TensorFlow side).
 *
 * With observed amplitudes `X` (the NPZ's normalised `diffraction`), initial intensity scale `s0`
 * (fixed) and learned scale `s`:
 * - observed counts `I_obs = (s0 * X)^2`; predicted counts `I_pred = s^2 * |dft2(probe * O)|^2`;
 * - `nll = mean(I_pred - I_obs * log(I_pred + 1e-6))`, the Poisson negative log-likelihood without
 *   the `log(I_obs!)` constant (`tf.nn.log_poisson_loss(..., compute_full_loss=False)`);
 * - `mae = mean|sqrt(I_pred + 1e-6) - s0 * X|`, amplitude MAE in count units (Keras MAE);
 * - `realspaceMae = mean|Re(O - Y)| + mean|Im(O - Y)|` over the object patches, against the ground
 *   truth `Y` (needs `Y` in the batch);
 * - `total = nllWeight * nll + maeWeight * mae + realspaceWeight * realspaceMaeWeight * realspaceMae`
 *   (upstream's `realspace_loss` is `realspace_mae_weight * complex_mae` weighted by
 *   `realspace_weight`; its total-variation term has no config field here). Terms whose weight is 0
 *   are left out of the total (and of the gradient) but `nll` and `mae` are always reported.
 * - supervised models: `total = supervisedAmplitude + supervisedPhase`, the MAE of the decoder's
 *   amplitude against `|Y|` and of its phase against `angle(Y)`.
 * Means run over every element of `[B, N, N, C]`.
 */
import type { Scalar, Tensor4D } from "@tensorflow/tfjs";
import type { TrainingConfig } from "@trainkit/training-config";
import type { ForwardOutput } from "./model.ts";
import type { Complex } from "./ops.ts";
import { tf } from "./tfjs.ts";

/** The loss weights read from the training config. */
export type LossWeights = Pick<
  TrainingConfig,
  "nllWeight" | "maeWeight" | "realspaceWeight" | "realspaceMaeWeight"
>;

/** Upstream's defaults: Poisson NLL only. */
export const DEFAULT_LOSS_WEIGHTS: LossWeights = {
  nllWeight: 1,
  maeWeight: 0,
  realspaceWeight: 0,
  realspaceMaeWeight: 0,
};

/** Small constant inside `log` and `sqrt` of predicted counts. */
export const COUNT_EPSILON = 1e-6;

export interface LossTargets {
  /** Observed diffraction amplitudes `[B, N, N, C]`. */
  readonly diffraction: Tensor4D;
  /** Ground-truth object patches `Y` `[B, N, N, C]`, when the data has them. */
  readonly groundTruth?: Complex<Tensor4D> | undefined;
}

export interface LossTensors {
  readonly total: Scalar;
  readonly parts: Readonly<Record<string, Scalar>>;
}

/** Computes the weighted total loss and its parts (unweighted) from a forward pass. */
export function computeLosses(
  output: ForwardOutput,
  targets: LossTargets,
  weights: LossWeights,
  initialIntensityScale: number,
  supervised: boolean,
): LossTensors {
  if (supervised) return supervisedLosses(output, targets);
  const predicted = output.intensity;
  if (predicted === undefined) throw new Error("losses: the forward pass produced no diffraction intensity.");
  const observedAmplitude = tf.mul(targets.diffraction, initialIntensityScale);
  const observed = tf.square(observedAmplitude);
  const nll = tf.mean(
    tf.sub(predicted, tf.mul(observed, tf.log(tf.add(predicted, COUNT_EPSILON)))),
  ) as Scalar;
  const mae = tf.mean(tf.abs(tf.sub(tf.sqrt(tf.add(predicted, COUNT_EPSILON)), observedAmplitude))) as Scalar;
  const parts: Record<string, Scalar> = { nll, mae };
  const terms: Scalar[] = [];
  if (weights.nllWeight > 0) terms.push(tf.mul(nll, weights.nllWeight));
  if (weights.maeWeight > 0) terms.push(tf.mul(mae, weights.maeWeight));
  const realspaceFactor = weights.realspaceWeight * weights.realspaceMaeWeight;
  if (realspaceFactor > 0) {
    const y = targets.groundTruth;
    if (y === undefined) {
      throw new Error(
        "training.realspaceWeight and training.realspaceMaeWeight are > 0, so the batch needs ground-truth object patches (Y); the data has none. Set either weight to 0 or use data with Y.",
      );
    }
    checkSameShape(y.re, output.object.re, "Y");
    const realspaceMae = tf.add(
      tf.mean(tf.abs(tf.sub(output.object.re, y.re))),
      tf.mean(tf.abs(tf.sub(output.object.im, y.im))),
    ) as Scalar;
    parts.realspaceMae = realspaceMae;
    terms.push(tf.mul(realspaceMae, realspaceFactor));
  }
  const total = (
    terms.length === 0 ? tf.scalar(0) : terms.length === 1 ? terms[0] : tf.addN(terms)
  ) as Scalar;
  return { total, parts };
}

function supervisedLosses(output: ForwardOutput, targets: LossTargets): LossTensors {
  const y = targets.groundTruth;
  if (y === undefined) {
    throw new Error(
      "model.modelType is supervised, so the batch needs ground-truth object patches (Y); the data has none.",
    );
  }
  checkSameShape(y.re, output.amplitude, "Y");
  const amplitude = tf.mean(
    tf.abs(tf.sub(output.amplitude, tf.sqrt(tf.add(tf.square(y.re), tf.square(y.im))))),
  ) as Scalar;
  const phase = tf.mean(tf.abs(tf.sub(output.phase, tf.atan2(y.im, y.re)))) as Scalar;
  return {
    total: tf.add(amplitude, phase) as Scalar,
    parts: { supervisedAmplitude: amplitude, supervisedPhase: phase },
  };
}

function checkSameShape(actual: Tensor4D, expected: Tensor4D, what: string): void {
  if (actual.shape.join() !== expected.shape.join()) {
    throw new Error(
      `${what}: expected ground-truth patches of shape [${expected.shape.join(", ")}], got [${actual.shape.join(", ")}].`,
    );
  }
}
