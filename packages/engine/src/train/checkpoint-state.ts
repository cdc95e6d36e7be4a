// What a training checkpoint holds and how a run continues from one: the model's weights, the
// optimizer's state beside them, and the small state (epoch, step, scheduler, early stopping, RNG).
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { readCheckpoint, type TrainingState } from "../loop/checkpoint-file.ts";
import { LAST_CHECKPOINT } from "../loop/checkpoint-manager.ts";
import { loadModelArrays } from "../model-weights.ts";
import type { NamedArray } from "../state.ts";
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
    loadModelArrays(model, checkpoint.model, lastPath);
    optimizer.setState({ ...checkpoint.optimizer });
    scheduler.setState(checkpoint.scheduler as never);
    early.setState(checkpoint.earlyStopping as never);
    shuffle.setState(checkpoint.rng as never);
    startEpoch = checkpoint.epoch + 1;
    step = checkpoint.step;
    io.stderr(`trainkit-train: resuming from ${lastPath} at epoch ${startEpoch}\n`);
  } else {
    warn(`--resume: no ${lastPath} yet; starting from the beginning`);
  }
  return { epoch: startEpoch, step };
}

/** The training state at the end of `epoch` (0-based): the next epoch is where a resume starts. */
export function checkpointState(
  parts: TrainingParts,
  arrays: readonly NamedArray[],
  epoch: number,
  step: number,
): TrainingState {
  const { optimizer, scheduler, early, shuffle } = parts;
  return {
    epoch,
    step,
    model: arrays,
    optimizer: optimizer.getState(),
    scheduler: scheduler.getState(),
    earlyStopping: early.getState(),
    rng: shuffle.getState(),
  };
}
