// What a training checkpoint holds and how a run continues from one: the model's weights, the
// optimizer's state beside them, and the small state (epoch, step, scheduler, early stopping, RNG).
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { LAST_CHECKPOINT, readCheckpoint } from "../loop/checkpoints.ts";
import { loadModelArrays } from "../model-weights.ts";
import { decodeState, encodeState, type NamedArray } from "../state.ts";
import type { TrainingParts } from "./build.ts";

/** Where a run starts: epoch 0, step 0, or where its last checkpoint left off. */
export interface StartPoint {
  readonly epoch: number;
  readonly step: number;
}

/**
 * Training phase 2b, for `--resume`: removes what interrupted writes left behind and restores the
 * parts from `checkpoints/last.ckpt` in `runDir`, when there is one (else `warn`s and starts over).
 */
export async function restoreTraining(
  parts: TrainingParts,
  runDir: string,
  io: { readonly stderr: (text: string) => void },
  warn: (message: string) => void,
): Promise<StartPoint> {
  const { model, optimizer, scheduler, early, shuffle } = parts;
  let startEpoch = 0;
  let step = 0;
  const lastPath = join(runDir, "checkpoints", LAST_CHECKPOINT);
  // Temporary files of writes a SIGKILL cut short (`.last.ckpt.<id>.tmp`, `.model.zip.<id>.tmp`).
  for (const folder of [runDir, join(runDir, "checkpoints")]) {
    const names = await readdir(folder).catch(() => [] as string[]);
    for (const name of names) if (/^\..+\.tmp$/.test(name)) await rm(join(folder, name), { force: true });
  }
  const exists = await readFile(lastPath).then(
    () => true,
    () => false,
  );
  if (exists) {
    const checkpoint = await readCheckpoint(lastPath);
    const state = decodeState(checkpoint.payload, lastPath);
    loadModelArrays(
      model,
      state.arrays.filter((a) => !a.name.startsWith("optimizer:")),
      lastPath,
    );
    const optimizerState: Record<string, Float32Array | number> = {
      ...(state.meta.optimizerScalars as Record<string, number>),
    };
    for (const a of state.arrays)
      if (a.name.startsWith("optimizer:")) optimizerState[a.name.slice(10)] = a.data;
    optimizer.setState(optimizerState);
    scheduler.setState(state.meta.scheduler as never);
    early.setState(state.meta.early as never);
    shuffle.setState(state.meta.rng as never);
    startEpoch = state.meta.epoch as number;
    step = state.meta.step as number;
    io.stderr(`trainkit-train: resuming from ${lastPath} at epoch ${startEpoch}\n`);
  } else {
    warn(`--resume: no ${lastPath} yet; starting from the beginning`);
  }
  return { epoch: startEpoch, step };
}

/** The checkpoint payload at the end of `epoch` (0-based): the next epoch is where a resume starts. */
export function checkpointState(
  parts: TrainingParts,
  arrays: readonly NamedArray[],
  epoch: number,
  step: number,
): Uint8Array {
  const { optimizer, scheduler, early, shuffle } = parts;
  const optimizerState = optimizer.getState();
  return encodeState({
    arrays: [
      ...arrays,
      ...Object.entries(optimizerState)
        .filter((e): e is [string, Float32Array] => e[1] instanceof Float32Array)
        .map(([name, data]) => ({ name: `optimizer:${name}`, shape: [data.length], data })),
    ],
    meta: {
      epoch: epoch + 1,
      step,
      optimizerScalars: Object.fromEntries(
        Object.entries(optimizerState).filter((e) => typeof e[1] === "number"),
      ),
      scheduler: scheduler.getState(),
      early: early.getState(),
      rng: shuffle.getState(),
    },
  });
}
