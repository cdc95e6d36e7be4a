// Gradient clipping as the execution config's gradientClipAlgorithm and gradientClipVal name it.
import * as tf from "@tensorflow/tfjs";
import type { ExecutionConfig } from "@trainkit/execution-config";
import { match } from "ts-pattern";
import { LoopError } from "./errors.ts";
import { executionSettings } from "./settings.ts";

function invalid(message: string): never {
  throw new LoopError("INVALID_OPTION", message);
}

/** Gradient clipping as the execution `gradientClipAlgorithm` names it. */
export type GradientClipAlgorithm = ExecutionConfig["gradientClipAlgorithm"];

export interface ClipOptions {
  readonly algorithm: GradientClipAlgorithm;
  /** `gradientClipVal`: the max global norm, the max absolute value, or the agc ratio. */
  readonly clipValue: number;
  /** agc only: the parameters the gradients belong to (same names). */
  readonly params?: ReadonlyMap<string, tf.Tensor>;
  /** agc only: floor of the parameter norm, so zero-initialised units can still move. Default 1e-3. */
  readonly agcEps?: number;
}

/** The global L2 norm of all gradients (one host read). */
export function globalGradNorm(grads: ReadonlyMap<string, tf.Tensor>): number {
  if (grads.size === 0) return 0;
  const norm = tf.tidy(() =>
    tf.sqrt(tf.addN([...grads.values()].map((g) => tf.cast(g, "float32").square().sum()))),
  );
  const value = norm.dataSync()[0]!;
  norm.dispose();
  return value;
}

/**
 * A clipper for the run's settings, checked once against the schema (its values and range, a finite
 * number > 0, with its messages); it returns clipped copies of the gradients it is given (see
 * {@link clipGradients}).
 */
export function createGradientClipper(
  options: ClipOptions,
): (grads: ReadonlyMap<string, tf.Tensor>) => Map<string, tf.Tensor> {
  executionSettings(["gradientClipAlgorithm", "gradientClipVal"], {
    gradientClipAlgorithm: options.algorithm,
    gradientClipVal: options.clipValue,
  });
  return (grads) => clip(grads, options);
}

/**
 * Clipped copies of `grads` (new tensors; the inputs are not disposed):
 * - `norm`: scale all gradients by min(1, clip / (globalNorm + 1e-6)) (PyTorch `clip_grad_norm_`);
 * - `value`: clamp every element to [-clip, clip] (`clip_grad_value_`);
 * - `agc`: adaptive gradient clipping (NFNets; unit-wise): for each unit of each parameter
 *   (the whole tensor for scalars and vectors, each output unit for dense [in, out] kernels, each
 *   output channel for HWIO conv kernels), when ||g|| / max(||w||, eps) > clip, rescale g to
 *   clip * max(||w||, eps) / ||g||.
 * No host read: safe inside a training step. A training loop makes one `createGradientClipper`.
 */
export function clipGradients(
  grads: ReadonlyMap<string, tf.Tensor>,
  options: ClipOptions,
): Map<string, tf.Tensor> {
  return createGradientClipper(options)(grads);
}

function clip(grads: ReadonlyMap<string, tf.Tensor>, options: ClipOptions): Map<string, tf.Tensor> {
  const { algorithm, clipValue } = options;
  const out = new Map<string, tf.Tensor>();
  return match(algorithm)
    .with("value", () => {
      for (const [name, g] of grads) out.set(name, tf.clipByValue(g, -clipValue, clipValue));
      return out;
    })
    .with("norm", () => {
      if (grads.size === 0) return out;
      const coef = tf.tidy(() => {
        const norm = tf.sqrt(tf.addN([...grads.values()].map((g) => tf.cast(g, "float32").square().sum())));
        return tf.minimum(tf.scalar(1), tf.scalar(clipValue).div(norm.add(1e-6)));
      });
      for (const [name, g] of grads)
        out.set(
          name,
          tf.tidy(() => g.mul(coef)),
        );
      coef.dispose();
      return out;
    })
    .with("agc", () => {
      const params = options.params;
      if (params === undefined)
        invalid('gradientClipAlgorithm "agc": the parameters are needed (options.params).');
      const eps = options.agcEps ?? 1e-3;
      for (const [name, g] of grads) {
        const w = params.get(name);
        if (w === undefined) invalid(`gradientClipAlgorithm "agc": no parameter named "${name}".`);
        out.set(
          name,
          tf.tidy(() => {
            const maxNorm = tf.maximum(unitwiseNorm(w), eps).mul(clipValue);
            const gNorm = unitwiseNorm(g);
            const scaled = g.mul(maxNorm.div(tf.maximum(gNorm, 1e-6)));
            return tf.where(gNorm.greater(maxNorm).broadcastTo(g.shape), scaled, g);
          }),
        );
      }
      return out;
    })
    .exhaustive();
}

/** L2 norm per unit, broadcastable against `x` (see `clipGradients` agc). */
function unitwiseNorm(x: tf.Tensor): tf.Tensor {
  const squeezedRank = x.shape.filter((d) => d !== 1).length;
  if (x.rank <= 1 || squeezedRank <= 1) return x.square().sum().sqrt();
  const axes = x.rank <= 3 ? [0] : Array.from({ length: x.rank - 1 }, (_, i) => i);
  return x.square().sum(axes, true).sqrt();
}
