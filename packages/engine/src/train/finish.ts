// Training phase 4, the outputs: the run's facts for the manifest, the values settled at run time,
// and, for a run that finished, the loss curve and the model bundle.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { writeTrainedBundle } from "../bundle.ts";
import { ENGINE_VERSION } from "../capabilities.ts";
import type { ComputeStart } from "../compute.ts";
import { modelArrays } from "../model-weights.ts";
import { writeLossCurve } from "../plot.ts";
import { type EngineResult, type TrainingContext, warningsOf } from "../run-context.ts";
import type { TrainingParts } from "./build.ts";
import { FOLDS_FILE, type TrainingData } from "./data.ts";
import type { LoopOutcome } from "./loop.ts";

/** Ends a training run: frees the model and optimizer and, when it succeeded, writes its outputs. */
export async function finishTraining(
  context: TrainingContext,
  compute: ComputeStart,
  data: TrainingData,
  parts: TrainingParts,
  outcome: LoopOutcome,
): Promise<EngineResult> {
  const { runDir } = context;
  const { execution } = context.payload.config;
  const { split } = data;
  const { model, optimizer, monitor, checkpoints, dataIntensity } = parts;
  const { history, interrupted, diverged } = outcome;
  const details = runDetails(compute, data, parts, outcome);
  const resolved = [
    {
      path: "execution.checkpointMonitor",
      value: monitor.name,
      reason:
        monitor.name === execution.checkpointMonitor
          ? "logged by the engine under this name"
          : (monitor.warning ?? `the engine's name for "${execution.checkpointMonitor}"`),
    },
  ];
  if (interrupted) {
    model.dispose();
    optimizer.dispose();
    return { status: "interrupted", details, resolved };
  }
  if (diverged) {
    model.dispose();
    optimizer.dispose();
    const kept = checkpoints.lastPath ?? null;
    return {
      status: "failed",
      message: `the training ${diverged.what} became non-finite (${diverged.loss}) at epoch ${diverged.epoch + 1} (step ${diverged.step}); training stopped and nothing of that epoch was saved. ${kept ? `The last good checkpoint is kept (${kept}); lower the learning rate or clip gradients and --resume` : "No checkpoint was written yet; lower the learning rate or clip gradients"}.`,
      details: { ...details, diverged },
      resolved,
    };
  }
  await mkdir(runDir, { recursive: true });
  const figures = await writeLossCurve(runDir, history, warningsOf(context.io));
  await writeTrainedBundle(join(runDir, "model.zip"), {
    config: context.payload.config,
    legacy: context.payload.legacy,
    details,
    intensityScale: model.intensityScale(),
    arrays: modelArrays(model),
    meta: { intensityScale: model.initialIntensityScale, meanTotalIntensity: dataIntensity },
  });
  model.dispose();
  optimizer.dispose();
  return {
    status: "succeeded",
    details,
    resolved,
    outputs: {
      "model bundle": "model.zip",
      ...figures,
      ...(split ? { folds: FOLDS_FILE } : {}),
      ...(execution.logger !== "none" ? { metrics: "lightning_logs/" } : {}),
      ...(execution.enableCheckpointing ? { checkpoints: "checkpoints/" } : {}),
    },
  };
}

/** The run's facts for the manifest (and the bundle): compute, model size, data, epochs, speed. */
function runDetails(compute: ComputeStart, data: TrainingData, parts: TrainingParts, outcome: LoopOutcome) {
  const { split, train: trainData, test: testData, trainGroups, testGroups } = data;
  const { model, monitor, checkpoints } = parts;
  const { history, startEpoch, stoppedEarly } = outcome;
  return {
    ...compute.details,
    engineVersion: ENGINE_VERSION,
    parameters: model.parameterCount(true),
    groups: trainGroups.grouping.nGroups,
    channels: trainGroups.grouping.C,
    trainPositions: trainData.M,
    validation: split
      ? {
          source: "fold",
          ...split.summary,
          positions: testData!.M,
          groups: testGroups!.grouping.nGroups,
          file: FOLDS_FILE,
        }
      : testData && testGroups
        ? {
            source: "testDataFile",
            file: testData.file,
            positions: testData.M,
            groups: testGroups.grouping.nGroups,
          }
        : null,
    // Epochs of the whole run, the resumed ones included; `epochsThisRun` counts this process's.
    epochsRun: startEpoch + history.length,
    epochsThisRun: history.length,
    steps: outcome.steps,
    monitor: monitor.name,
    ...(monitor.warning ? { monitorWarning: monitor.warning } : {}),
    ...(stoppedEarly ? { earlyStopping: stoppedEarly } : {}),
    trainingSamplesPerSecond: outcome.samples / Math.max(outcome.seconds, 1e-9),
    lastMetrics: history.at(-1) ?? null,
    bestCheckpoint: checkpoints.bestPath,
  };
}
