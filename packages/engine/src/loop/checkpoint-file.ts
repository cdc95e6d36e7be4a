// One checkpoint file: what training needs to continue where it stopped, as an `.npz` that
// `numpy.load` opens (see `state.ts`). Members: each model variable by name (`enc1a/kernel`,
// `probe/re`, ...), each optimizer slot beside them as `optimizer/<slot>` (`optimizer/adam.m/enc1a/kernel`,
// shaped like its variable), and `_metadata`, a JSON string with the epoch, step, metrics and the
// small states (optimizer scalars, scheduler, early stopping, RNG).

import { loadState, type NamedArray, saveState } from "../state.ts";
import { isLoopError, LoopError } from "./errors.ts";
import type { OptimizerState } from "./optimizers.ts";

/** `_metadata.format` of a checkpoint. */
export const CHECKPOINT_FORMAT = "trainkit-checkpoint";

/** Optimizer slots are stored as `optimizer/<slot name>` beside the model variables. */
export const OPTIMIZER_PREFIX = "optimizer/";

/** What training needs to continue where it stopped. */
export interface TrainingState {
  /** The epoch (0-based, as Lightning) that ended when this was saved; a resumed run starts at the next. */
  readonly epoch: number;
  /** Optimizer steps taken so far. */
  readonly step: number;
  /** The model's variables by name. */
  readonly model: readonly NamedArray[];
  /** `optimizer.getState()`: slot arrays (`adam.m/enc1a/kernel`) and scalars (`step`). */
  readonly optimizer: Readonly<OptimizerState>;
  /** `scheduler.getState()`, `earlyStopping.getState()`, `rng.getState()`: JSON values. */
  readonly scheduler: unknown;
  readonly earlyStopping: unknown;
  readonly rng: unknown;
}

/** A checkpoint: the training state and the epoch's metrics. */
export interface Checkpoint extends TrainingState {
  /** The monitored metric's name, or null when none ranks checkpoints. */
  readonly monitor: string | null;
  /** Its value (null when not finite or not monitored). */
  readonly metric: number | null;
  /** Every metric of the epoch (non-finite values as null). */
  readonly metrics: Readonly<Record<string, number | null>>;
  /** Unix time in seconds when the checkpoint was written. */
  readonly wallTime: number;
}

/** `_metadata` of a checkpoint file, beside `format` and `formatVersion`. */
interface CheckpointMetadata {
  readonly epoch: number;
  readonly step: number;
  readonly monitor: string | null;
  readonly metric: number | null;
  readonly metrics: Readonly<Record<string, number | null>>;
  readonly wallTime: number;
  /** The optimizer's scalars (`step`); its arrays are members. */
  readonly optimizer: Readonly<Record<string, number>>;
  readonly scheduler: unknown;
  readonly earlyStopping: unknown;
  readonly rng: unknown;
}

/** A slot `kind/variable` takes its variable's shape (numpy users see `m` shaped like the kernel). */
function slotShape(slot: string, length: number, model: ReadonlyMap<string, NamedArray>): readonly number[] {
  const variable = model.get(slot.slice(slot.indexOf("/") + 1));
  return variable !== undefined && variable.data.length === length ? variable.shape : [length];
}

/** Writes `checkpoint` to `path` atomically (a temporary file in the same folder, then a rename). */
export async function writeCheckpoint(path: string, checkpoint: Checkpoint): Promise<void> {
  const model = new Map(checkpoint.model.map((a) => [a.name, a]));
  const arrays: NamedArray[] = [...checkpoint.model];
  const scalars: Record<string, number> = {};
  for (const [slot, value] of Object.entries(checkpoint.optimizer)) {
    if (typeof value === "number") scalars[slot] = value;
    else
      arrays.push({
        name: `${OPTIMIZER_PREFIX}${slot}`,
        shape: slotShape(slot, value.length, model),
        data: value,
      });
  }
  const meta: CheckpointMetadata = {
    epoch: checkpoint.epoch,
    step: checkpoint.step,
    monitor: checkpoint.monitor,
    metric: checkpoint.metric,
    metrics: checkpoint.metrics,
    wallTime: checkpoint.wallTime,
    optimizer: scalars,
    scheduler: checkpoint.scheduler,
    earlyStopping: checkpoint.earlyStopping,
    rng: checkpoint.rng,
  };
  await saveState(path, CHECKPOINT_FORMAT, { arrays, meta: { ...meta } });
}

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;
const isNumberOrNull = (v: unknown): v is number | null => v === null || typeof v === "number";
const isRecordOf = <T>(v: unknown, item: (x: unknown) => x is T): v is Record<string, T> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).every(item);

/**
 * Reads and checks a checkpoint file. Throws `BAD_CHECKPOINT` when it cannot be read, is not an
 * `.npz` (or not a trainkit checkpoint), is damaged (the zip's CRC-32 and sizes are checked) or
 * its `_metadata` lacks a field; the message names the file and what is wrong.
 */
export async function readCheckpoint(path: string): Promise<Checkpoint> {
  const bad = (why: string, cause?: unknown): LoopError =>
    new LoopError("BAD_CHECKPOINT", `checkpoint ${path}: ${why}`, { file: path, cause });
  let state: Awaited<ReturnType<typeof loadState>>;
  try {
    state = await loadState(path, CHECKPOINT_FORMAT);
  } catch (error) {
    if (isLoopError(error, "BAD_STATE")) throw bad(error.message.slice(path.length + 2), error);
    throw error;
  }
  const m = state.meta as Partial<Record<keyof CheckpointMetadata, unknown>>;
  const field = (name: keyof CheckpointMetadata, expected: string, ok: boolean): void => {
    if (!ok) throw bad(`_metadata.${name} must be ${expected}, got ${JSON.stringify(m[name]) ?? "nothing"}.`);
  };
  field("epoch", "a non-negative integer", isCount(m.epoch));
  field("step", "a non-negative integer", isCount(m.step));
  field("monitor", "a string or null", m.monitor === null || typeof m.monitor === "string");
  field("metric", "a number or null", isNumberOrNull(m.metric));
  field("metrics", "an object of numbers (or null)", isRecordOf(m.metrics, isNumberOrNull));
  field("wallTime", "a number", typeof m.wallTime === "number");
  field(
    "optimizer",
    "an object of numbers",
    isRecordOf(m.optimizer, (v) => typeof v === "number"),
  );
  for (const name of ["scheduler", "earlyStopping", "rng"] as const)
    field(name, "present", m[name] !== undefined);
  const meta = m as CheckpointMetadata;
  const model: NamedArray[] = [];
  const optimizer: OptimizerState = { ...meta.optimizer };
  for (const array of state.arrays) {
    if (array.name.startsWith(OPTIMIZER_PREFIX))
      optimizer[array.name.slice(OPTIMIZER_PREFIX.length)] = array.data;
    else model.push(array);
  }
  if (model.length === 0) throw bad("it holds no model variables.");
  return {
    epoch: meta.epoch,
    step: meta.step,
    monitor: meta.monitor,
    metric: meta.metric,
    metrics: meta.metrics,
    wallTime: meta.wallTime,
    model,
    optimizer,
    scheduler: meta.scheduler,
    earlyStopping: meta.earlyStopping,
    rng: meta.rng,
  };
}
