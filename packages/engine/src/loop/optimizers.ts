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
  /**
   * Moves the values `w` of variable `name` in place by its float32 gradient `g` at update `t`
   * (1-based), updating its slots in place.
   */
  apply(name: string, w: Float32Array, g: Float32Array, lr: number, t: number): void;
}

const f32 = Math.fround;

/** Adam's float32 constants of one update (`wd` 0: no coupled decay; `keep` 1: no decoupled decay). */
interface AdamConstants {
  readonly wd: number;
  readonly keep: number;
  readonly b1: number;
  readonly c1: number;
  readonly b2: number;
  readonly c2: number;
  readonly root: number;
  readonly eps: number;
  readonly rate: number;
}

/**
 * One adam/adamw update of `w`, `m`, `v` in place, each operation rounded to float32 in the order of
 * `g.add(w.mul(wd))`, `m.mul(b1).add(g.mul(c1))`, `v.mul(b2).add(g.square().mul(c2))`,
 * `w.mul(keep).sub(m.div(v.sqrt().div(root).add(eps)).mul(rate))` (a step skipped when its constant
 * is the identity, as those ops were). A plain function of its arguments, so V8 compiles one fast loop.
 */
function adamUpdate(
  w: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  k: AdamConstants,
): void {
  const { wd, keep, b1, c1, b2, c2, root, eps, rate } = k;
  const coupled = wd !== 0;
  const shrink = keep !== 1;
  for (let i = 0; i < w.length; i++) {
    const wi = w[i] as number;
    const gi = coupled ? f32((g[i] as number) + f32(wi * wd)) : (g[i] as number);
    const mi = f32(f32((m[i] as number) * b1) + f32(gi * c1));
    const vi = f32(f32((v[i] as number) * b2) + f32(f32(gi * gi) * c2));
    m[i] = mi;
    v[i] = vi;
    const base = shrink ? f32(wi * keep) : wi;
    w[i] = f32(base - f32(f32(mi / f32(f32(f32(Math.sqrt(vi)) / root) + eps)) * rate));
  }
}

/** One sgd update in place: `g.add(w.mul(wd))`, `buf.mul(momentum).add(g)`, `w.sub(g.mul(lr))`. */
function sgdUpdate(
  w: Float32Array,
  g: Float32Array,
  buf: Float32Array | undefined,
  wd: number,
  momentum: number,
  lr: number,
): void {
  for (let i = 0; i < w.length; i++) {
    const wi = w[i] as number;
    let gi = wd !== 0 ? f32((g[i] as number) + f32(wi * wd)) : (g[i] as number);
    if (buf !== undefined) {
      gi = f32(f32((buf[i] as number) * momentum) + gi);
      buf[i] = gi;
    }
    w[i] = f32(wi - f32(gi * lr));
  }
}

/**
 * Adam, AdamW (decoupled weight decay) or SGD with momentum and coupled weight decay, following
 * `torch.optim` exactly (dampening 0, no Nesterov, no amsgrad). Throws `ConfigError` for a setting
 * the execution schema refuses.
 *
 * The update runs in JavaScript over the variables' values, every operation rounded to float32
 * (`Math.fround`) in the order of the TensorFlow.js ops it replaces (`m.mul(beta1).add(g.mul(1 -
 * beta1))`, ...), with each constant rounded as a float32 scalar tensor would be: the same bytes as
 * those ops on any backend, without their ~20 engine calls per variable per step.
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

  const slots = new Map<string, Float32Array>();
  const slotNames: string[] = [];
  const slot = (key: string): Float32Array => slots.get(key)!;
  const adam = (decoupled: boolean): UpdateRule => ({
    slots: (name) => [`adam.m/${name}`, `adam.v/${name}`],
    apply(name, w, g, lr, t) {
      const coupled = !decoupled && weightDecay !== 0;
      const shrink = decoupled && weightDecay !== 0;
      adamUpdate(w, g, slot(`adam.m/${name}`), slot(`adam.v/${name}`), {
        wd: coupled ? f32(weightDecay) : 0,
        keep: shrink ? f32(1 - lr * weightDecay) : 1,
        b1: f32(beta1),
        c1: f32(1 - beta1),
        b2: f32(beta2),
        c2: f32(1 - beta2),
        root: f32(Math.sqrt(1 - beta2 ** t)),
        eps: f32(epsilon),
        rate: f32(lr / (1 - beta1 ** t)),
      });
    },
  });
  const rule = match(kind)
    .with("adam", () => adam(false))
    .with("adamw", () => adam(true))
    .with(
      "sgd",
      (): UpdateRule => ({
        slots: (name) => (momentum > 0 ? [`sgd.momentum/${name}`] : []),
        apply(name, w, g, lr) {
          const buf = momentum > 0 ? slot(`sgd.momentum/${name}`) : undefined;
          sgdUpdate(w, g, buf, f32(weightDecay), f32(momentum), f32(lr));
        },
      }),
    )
    .exhaustive();

  for (const [name, v] of variables) {
    for (const key of rule.slots(name)) {
      slots.set(key, new Float32Array(v.size));
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
    for (const [name, w] of variables) {
      const g = grads.get(name);
      if (g === undefined) continue;
      // A copy: on cpu dataSync() is the tensor's own storage. The gradient is only read.
      const values = new Float32Array(w.dataSync() as Float32Array);
      rule.apply(name, values, g.dataSync() as Float32Array, lr, t);
      tf.tidy(() => w.assign(tf.tensor(values, w.shape, "float32")));
    }
  };

  const getState = (): OptimizerState => {
    const state: OptimizerState = { step: iterations };
    for (const key of slotNames) state[key] = slot(key).slice();
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
      if (value.length !== target.length)
        bad(`"${key}" has ${value.length} values, expected ${target.length}.`);
    }
    for (const key of slotNames) slot(key).set(state[key] as Float32Array);
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
      slots.clear();
    },
  };
}
