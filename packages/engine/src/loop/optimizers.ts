// The optimizers the execution config's `optimizer` names, with PyTorch's update rules and explicit,
// serialisable state. Their settings, defaults and ranges are the execution schema's.
import * as tf from "@tensorflow/tfjs";
import type { ExecutionConfig } from "@trainkit/execution-config";
import { match } from "ts-pattern";
import { LoopError } from "./errors.ts";
import { executionSettings } from "./settings.ts";

/** The optimisers the engine implements (execution `optimizer`). */
export type OptimizerKind = ExecutionConfig["optimizer"];

/** The execution fields an optimizer reads. */
export type OptimizerSettings = Pick<
  ExecutionConfig,
  "optimizer" | "momentum" | "weightDecay" | "adamBeta1" | "adamBeta2"
>;

const SETTINGS = [
  "optimizer",
  "momentum",
  "weightDecay",
  "adamBeta1",
  "adamBeta2",
] as const satisfies readonly (keyof OptimizerSettings)[];

/**
 * Hyper-parameters: the execution fields (an absent one takes the schema's default) and adam's
 * epsilon. The learning rate is passed to every `step` (it comes from the scheduler).
 */
export interface OptimizerOptions extends Partial<OptimizerSettings> {
  readonly optimizer: OptimizerKind;
  /** adam/adamw denominator epsilon (not an execution field). Default 1e-8 (PyTorch). */
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

function invalid(message: string): never {
  throw new LoopError("INVALID_OPTION", message);
}

/** One kind's update: the state slots it keeps per variable and how it moves a variable. */
interface UpdateRule {
  /** The slot keys of variable `name`, in the order they are created and saved. */
  slots(name: string): readonly string[];
  /** Updates `w` with its float32 gradient `g` at update `t` (1-based), inside a `tf.tidy`. */
  apply(name: string, w: tf.Variable, g: tf.Tensor, lr: number, t: number): void;
}

/**
 * Adam, AdamW (decoupled weight decay) or SGD with momentum and coupled weight decay, following
 * `torch.optim` exactly (dampening 0, no Nesterov, no amsgrad). Throws `ConfigError` for a setting
 * the execution schema refuses.
 */
export function createOptimizer(
  variables: ReadonlyMap<string, tf.Variable>,
  options: OptimizerOptions,
): Optimizer {
  const {
    optimizer: kind,
    momentum,
    weightDecay,
    adamBeta1: beta1,
    adamBeta2: beta2,
  } = executionSettings(SETTINGS, options);
  const epsilon = options.epsilon ?? 1e-8;
  if (!(epsilon > 0)) invalid(`epsilon: must be > 0, got ${epsilon}.`);

  const slots = new Map<string, tf.Variable>();
  const slotNames: string[] = [];
  const slot = (key: string): tf.Variable => slots.get(key)!;
  const adam = (decoupled: boolean): UpdateRule => ({
    slots: (name) => [`adam.m/${name}`, `adam.v/${name}`],
    apply(name, w, raw, lr, t) {
      let g = raw;
      if (!decoupled && weightDecay !== 0) g = g.add(w.mul(weightDecay));
      const m = slot(`adam.m/${name}`);
      const v = slot(`adam.v/${name}`);
      m.assign(m.mul(beta1).add(g.mul(1 - beta1)));
      v.assign(v.mul(beta2).add(g.square().mul(1 - beta2)));
      const bc1 = 1 - beta1 ** t;
      const bc2 = 1 - beta2 ** t;
      const base: tf.Tensor = decoupled && weightDecay !== 0 ? w.mul(1 - lr * weightDecay) : w;
      const denom = v.sqrt().div(Math.sqrt(bc2)).add(epsilon);
      w.assign(base.sub(m.div(denom).mul(lr / bc1)));
    },
  });
  const rule = match(kind)
    .with("adam", () => adam(false))
    .with("adamw", () => adam(true))
    .with(
      "sgd",
      (): UpdateRule => ({
        slots: (name) => (momentum > 0 ? [`sgd.momentum/${name}`] : []),
        apply(name, w, raw, lr) {
          let g = raw;
          if (weightDecay !== 0) g = g.add(w.mul(weightDecay));
          if (momentum > 0) {
            const buf = slot(`sgd.momentum/${name}`);
            buf.assign(buf.mul(momentum).add(g));
            g = buf;
          }
          w.assign(w.sub(g.mul(lr)));
        },
      }),
    )
    .exhaustive();

  for (const [name, v] of variables) {
    for (const key of rule.slots(name)) {
      const zeros = tf.zerosLike(v);
      slots.set(key, tf.variable(zeros, false, undefined, "float32"));
      zeros.dispose();
      slotNames.push(key);
    }
  }
  let iterations = 0;
  let disposed = false;

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
        rule.apply(name, w, tf.cast(raw, "float32"), lr, t);
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
