// Gradient accumulation: micro-batch gradients summed and averaged before one optimizer step.
import * as tf from "@tensorflow/tfjs";
import { LoopError } from "./errors.ts";

function invalid(message: string): never {
  throw new LoopError("INVALID_OPTION", message);
}

/** Sums micro-batch gradients and averages them (gradient accumulation). */
export interface GradientAccumulator {
  /** Micro-batches added since the last reset. */
  readonly count: number;
  /** Adds one micro-batch's gradients (not disposed; every call must carry the same names). */
  add(grads: ReadonlyMap<string, tf.Tensor>): void;
  /**
   * The mean of the added gradients (new tensors, owned by the caller). With equal micro-batches of
   * b samples and a mean loss, k accumulated batches give exactly the gradient of one batch of b*k.
   * A short last window (end of epoch) averages what it has.
   */
  mean(): Map<string, tf.Tensor>;
  /** Drops the sums (call after each optimizer step). */
  reset(): void;
  dispose(): void;
}

export function createGradientAccumulator(): GradientAccumulator {
  let sums = new Map<string, tf.Tensor>();
  let count = 0;
  const reset = (): void => {
    for (const t of sums.values()) t.dispose();
    sums = new Map();
    count = 0;
  };
  return {
    get count() {
      return count;
    },
    add(grads) {
      if (count > 0) {
        const same = grads.size === sums.size && [...grads.keys()].every((k) => sums.has(k));
        if (!same) {
          invalid(
            `gradient accumulation: micro-batch ${count + 1} has gradients for [${[...grads.keys()].join(", ")}], earlier ones for [${[...sums.keys()].join(", ")}].`,
          );
        }
      }
      for (const [name, g] of grads) {
        const prev = sums.get(name);
        sums.set(name, prev === undefined ? tf.cast(g, "float32") : prev.add(g));
        prev?.dispose();
      }
      count += 1;
    },
    mean() {
      if (count === 0) invalid("gradient accumulation: mean() before any add().");
      const out = new Map<string, tf.Tensor>();
      for (const [name, s] of sums) out.set(name, s.div(count));
      return out;
    },
    reset,
    dispose: reset,
  };
}
