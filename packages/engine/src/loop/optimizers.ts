import * as tf from "@tensorflow/tfjs";
import type { ExecutionConfig } from "@trainkit/execution-config";
import { LoopError } from "./errors.ts";

/** The optimisers the engine implements (execution `optimizer`). */
export type OptimizerKind = "adam" | "adamw" | "sgd";

/** Hyper-parameters; the learning rate is passed to every `step` (it comes from the scheduler). */
export interface OptimizerOptions {
  readonly kind: OptimizerKind;
  /** sgd: momentum factor (0 disables the momentum buffer). Default 0.9. */
  readonly momentum?: number;
  /** L2 weight decay: added to the gradient for adam and sgd, decoupled (applied to the weights) for adamw. Default 0. */
  readonly weightDecay?: number;
  /** adam/adamw first-moment decay. Default 0.9. */
  readonly beta1?: number;
  /** adam/adamw second-moment decay. Default 0.999. */
  readonly beta2?: number;
  /** adam/adamw denominator epsilon. Default 1e-8 (PyTorch). */
  readonly epsilon?: number;
}

/**
 * Optimizer state as flat named arrays: `step` (number of updates so far), `adam.m/<var>` and
 * `adam.v/<var>` (adam, adamw) or `sgd.momentum/<var>` (sgd with momentum > 0).
 */
export type OptimizerState = Record<string, Float32Array | number>;

/** An optimizer over named `tf.Variable`s with explicit, serialisable state (PyTorch update rules). */
export interface Optimizer {
  readonly kind: OptimizerKind;
  /** Updates applied so far. */
  readonly iterations: number;
  /**
   * One update with learning rate `lr`. `grads` maps variable names to gradients of the same shape;
   * a variable without a gradient is left untouched (as PyTorch skips `grad is None`). Inputs are
   * not disposed.
   */
  step(grads: ReadonlyMap<string, tf.Tensor>, lr: number): void;
  getState(): OptimizerState;
  /** Restores a `getState()` snapshot; throws `INVALID_STATE` if it does not fit these variables. */
  setState(state: OptimizerState): void;
  /** Frees the state tensors (not the model variables). */
  dispose(): void;
}

/** Optimizer options from a resolved execution config. */
export function optimizerOptionsFrom(
  execution: Pick<ExecutionConfig, "optimizer" | "momentum" | "weightDecay" | "adamBeta1" | "adamBeta2">,
): OptimizerOptions {
  return {
    kind: execution.optimizer,
    momentum: execution.momentum,
    weightDecay: execution.weightDecay,
    beta1: execution.adamBeta1,
    beta2: execution.adamBeta2,
  };
}

function invalid(message: string): never {
  throw new LoopError("INVALID_OPTION", message);
}

/**
 * Adam, AdamW (decoupled weight decay) or SGD with momentum and coupled weight decay, following
 * `torch.optim` exactly (dampening 0, no Nesterov, no amsgrad).
 */
export function createOptimizer(
  variables: ReadonlyMap<string, tf.Variable>,
  options: OptimizerOptions,
): Optimizer {
  const kind = options.kind;
  const momentum = options.momentum ?? 0.9;
  const weightDecay = options.weightDecay ?? 0;
  const beta1 = options.beta1 ?? 0.9;
  const beta2 = options.beta2 ?? 0.999;
  const epsilon = options.epsilon ?? 1e-8;
  if (kind !== "adam" && kind !== "adamw" && kind !== "sgd") {
    invalid(`optimizer: must be "adam", "adamw" or "sgd", got ${JSON.stringify(kind)}.`);
  }
  if (!(momentum >= 0 && momentum <= 1)) invalid(`momentum: must be in [0, 1], got ${momentum}.`);
  if (!(weightDecay >= 0)) invalid(`weightDecay: must be >= 0, got ${weightDecay}.`);
  if (!(beta1 >= 0 && beta1 < 1)) invalid(`adamBeta1: must be in [0, 1), got ${beta1}.`);
  if (!(beta2 >= 0 && beta2 < 1)) invalid(`adamBeta2: must be in [0, 1), got ${beta2}.`);
  if (!(epsilon > 0)) invalid(`epsilon: must be > 0, got ${epsilon}.`);

  const slots = new Map<string, tf.Variable>();
  const slotNames: string[] = [];
  const addSlot = (key: string, like: tf.Variable): void => {
    const zeros = tf.zerosLike(like);
    slots.set(key, tf.variable(zeros, false, undefined, "float32"));
    zeros.dispose();
    slotNames.push(key);
  };
  for (const [name, v] of variables) {
    if (kind === "sgd") {
      if (momentum > 0) addSlot(`sgd.momentum/${name}`, v);
    } else {
      addSlot(`adam.m/${name}`, v);
      addSlot(`adam.v/${name}`, v);
    }
  }
  let iterations = 0;
  let disposed = false;

  const slot = (key: string): tf.Variable => slots.get(key)!;

  const step = (grads: ReadonlyMap<string, tf.Tensor>, lr: number): void => {
    if (disposed) invalid("optimizer.step: the optimizer was disposed.");
    if (!(lr >= 0) || !Number.isFinite(lr))
      invalid(`optimizer.step: lr must be a finite number >= 0, got ${lr}.`);
    for (const [name, g] of grads) {
      const v = variables.get(name);
      if (v === undefined) {
        invalid(
          `optimizer.step: gradient for unknown variable "${name}"; known: ${[...variables.keys()].join(", ")}.`,
        );
      }
      if (!tf.util.arraysEqual(g.shape, v.shape)) {
        invalid(`optimizer.step: gradient "${name}" has shape [${g.shape}], variable has [${v.shape}].`);
      }
    }
    iterations += 1;
    const t = iterations;
    tf.tidy(() => {
      for (const [name, w] of variables) {
        const raw = grads.get(name);
        if (raw === undefined) continue;
        let g: tf.Tensor = tf.cast(raw, "float32");
        if (kind === "sgd") {
          if (weightDecay !== 0) g = g.add(w.mul(weightDecay));
          if (momentum > 0) {
            const buf = slot(`sgd.momentum/${name}`);
            buf.assign(buf.mul(momentum).add(g));
            g = buf;
          }
          w.assign(w.sub(g.mul(lr)));
          continue;
        }
        if (kind === "adam" && weightDecay !== 0) g = g.add(w.mul(weightDecay));
        const m = slot(`adam.m/${name}`);
        const v = slot(`adam.v/${name}`);
        m.assign(m.mul(beta1).add(g.mul(1 - beta1)));
        v.assign(v.mul(beta2).add(g.square().mul(1 - beta2)));
        const bc1 = 1 - beta1 ** t;
        const bc2 = 1 - beta2 ** t;
        const base: tf.Tensor = kind === "adamw" && weightDecay !== 0 ? w.mul(1 - lr * weightDecay) : w;
        const denom = v.sqrt().div(Math.sqrt(bc2)).add(epsilon);
        w.assign(base.sub(m.div(denom).mul(lr / bc1)));
      }
    });
  };

  const getState = (): OptimizerState => {
    const state: OptimizerState = { step: iterations };
    for (const key of slotNames) state[key] = Float32Array.from(slot(key).dataSync());
    return state;
  };

  const setState = (state: OptimizerState): void => {
    const bad: (why: string) => never = (why) => {
      throw new LoopError("INVALID_STATE", `optimizer state (${kind}): ${why}`);
    };
    const stepValue = state.step;
    if (typeof stepValue !== "number" || !Number.isInteger(stepValue) || stepValue < 0) {
      bad(`"step" must be a non-negative integer, got ${String(stepValue)}.`);
    }
    const expected = new Set(["step", ...slotNames]);
    const unexpected = Object.keys(state).filter((k) => !expected.has(k));
    if (unexpected.length > 0) {
      bad(`unexpected entries ${unexpected.join(", ")}; was it saved by another optimizer or model?`);
    }
    for (const key of slotNames) {
      const value = state[key];
      const target = slot(key);
      if (!(value instanceof Float32Array)) bad(`missing Float32Array "${key}".`);
      if (value.length !== target.size) bad(`"${key}" has ${value.length} values, expected ${target.size}.`);
    }
    for (const key of slotNames) {
      const target = slot(key);
      tf.tidy(() => target.assign(tf.tensor(state[key] as Float32Array, target.shape, "float32")));
    }
    iterations = stepValue as number;
  };

  return {
    kind,
    get iterations() {
      return iterations;
    },
    step,
    getState,
    setState,
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const v of slots.values()) v.dispose();
      slots.clear();
    },
  };
}

/** Gradient clipping as the execution `gradientClipAlgorithm` names it. */
export type GradientClipAlgorithm = "norm" | "value" | "agc";

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
 * Clipped copies of `grads` (new tensors; the inputs are not disposed):
 * - `norm`: scale all gradients by min(1, clip / (globalNorm + 1e-6)) (PyTorch `clip_grad_norm_`);
 * - `value`: clamp every element to [-clip, clip] (`clip_grad_value_`);
 * - `agc`: adaptive gradient clipping (NFNets; unit-wise): for each unit of each parameter
 *   (the whole tensor for scalars and vectors, each output unit for dense [in, out] kernels, each
 *   output channel for HWIO conv kernels), when ||g|| / max(||w||, eps) > clip, rescale g to
 *   clip * max(||w||, eps) / ||g||.
 * No host read: safe inside a training step.
 */
export function clipGradients(
  grads: ReadonlyMap<string, tf.Tensor>,
  options: ClipOptions,
): Map<string, tf.Tensor> {
  const { algorithm, clipValue } = options;
  if (!(clipValue > 0) || !Number.isFinite(clipValue)) {
    invalid(`gradientClipVal: must be a finite number > 0, got ${clipValue}.`);
  }
  const out = new Map<string, tf.Tensor>();
  if (algorithm === "value") {
    for (const [name, g] of grads) out.set(name, tf.clipByValue(g, -clipValue, clipValue));
    return out;
  }
  if (algorithm === "norm") {
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
  }
  if (algorithm === "agc") {
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
  }
  return invalid(
    `gradientClipAlgorithm: must be "norm", "value" or "agc", got ${JSON.stringify(algorithm)}.`,
  );
}

/** L2 norm per unit, broadcastable against `x` (see `clipGradients` agc). */
function unitwiseNorm(x: tf.Tensor): tf.Tensor {
  const squeezedRank = x.shape.filter((d) => d !== 1).length;
  if (x.rank <= 1 || squeezedRank <= 1) return x.square().sum().sqrt();
  const axes = x.rank <= 3 ? [0] : Array.from({ length: x.rank - 1 }, (_, i) => i);
  return x.square().sum(axes, true).sqrt();
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
