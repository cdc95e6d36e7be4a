// The embedded training run, in four phases: the data (folds, groups), the parts (model, optimizer,
// scheduler, checkpoints; restored from the last checkpoint on --resume), the epochs (batches,
// accumulation, clipping, validation, logging, checkpoints, early stopping), and the outputs (loss
// curve, model bundle). Every execution knob the engine declares as supported changes what happens.
import { startCompute } from "./compute.ts";
import { type EngineResult, type TrainingContext, warningsOf } from "./run-context.ts";
import { buildTraining } from "./train/build.ts";
import { restoreTraining } from "./train/checkpoint-state.ts";
import { prepareTrainingData } from "./train/data.ts";
import { finishTraining } from "./train/finish.ts";
import { runEpochs } from "./train/loop.ts";

/** Trains the model of a training payload in `runDir`. */
export async function train(context: TrainingContext): Promise<EngineResult> {
  const { config } = context.payload;
  const { runDir } = context;
  const warn = warningsOf(context.io);
  const compute = await startCompute(config.execution, context.env ?? process.env, warn);
  const data = await prepareTrainingData(config, runDir, warn);
  if ("failure" in data) return { status: "failed", message: data.failure };
  const parts = await buildTraining(config, data, runDir, warn);
  const start = context.resume
    ? await restoreTraining(parts, runDir, context.io, warn)
    : { epoch: 0, step: 0 };
  const outcome = await runEpochs(config, data, parts, start, {
    runDir,
    signal: context.signal,
    backend: compute.backend,
  });
  return finishTraining(context, compute, data, parts, outcome);
}
