// Training phase 3, the epochs: batches (accumulation, clipping, optimizer step, scheduler), then per
// epoch the metrics, validation, logging, a checkpoint and early stopping. Stops cleanly on the
// signal, and before a non-finite loss or weight can reach a checkpoint.
import { ENGINE_VERSION } from "../capabilities.ts";
import { createGradientAccumulator } from "../loop/gradient-accumulation.ts";
import { clipGradients } from "../loop/gradient-clipping.ts";
import { createLogger } from "../loop/loggers/create.ts";
import { createProgress } from "../loop/progress.ts";
import { planBatches } from "../loop/workers.ts";
import { modelArrays } from "../model-weights.ts";
import type { TrainingSections } from "../run-context.ts";
import type { BackendInfo } from "../tf/backend.ts";
import { lossAndGradients } from "../tf/step.ts";
import { batchTensors, disposeBatch, validationLoss } from "./batches.ts";
import type { TrainingParts } from "./build.ts";
import { checkpointState, type StartPoint } from "./checkpoint-state.ts";
import type { TrainingData } from "./data.ts";

/** A loss, a metric or the weights became non-finite: where. */
export interface Divergence {
  readonly what: string;
  readonly epoch: number;
  readonly step: number;
  readonly loss: number;
}

/** How the epochs went. */
export interface LoopOutcome {
  readonly startEpoch: number;
  /** Optimizer steps of the whole run (the resumed ones included). */
  readonly steps: number;
  readonly interrupted: boolean;
  readonly diverged: Divergence | null;
  /** Early stopping's reason, when it stopped the run. */
  readonly stoppedEarly: string | null;
  /** One row per epoch of this process: `epoch` and the metrics logged. */
  readonly history: readonly Record<string, number>[];
  /** Training samples seen by this process, and the seconds it took. */
  readonly samples: number;
  readonly seconds: number;
}

/** Runs the epochs from `start` to `training.nepochs` (the logger and progress bar live only here). */
export async function runEpochs(
  config: TrainingSections,
  data: TrainingData,
  parts: TrainingParts,
  start: StartPoint,
  run: { readonly runDir: string; readonly signal: AbortSignal; readonly backend: BackendInfo },
): Promise<LoopOutcome> {
  const { model: modelConfig, training, execution } = config;
  const { trainGroups, testGroups, needsTruth } = data;
  const { model, variables, optimizer, scheduler, weights, monitor, checkpoints, early, shuffle, loader } =
    parts;
  const { runDir, signal } = run;
  const { N } = data.train;
  const G = trainGroups.grouping.nGroups;
  const startEpoch = start.epoch;
  let step = start.step;

  const logger = createLogger(execution.logger, runDir, {
    model: modelConfig,
    training,
    execution: { ...execution, mlflowTrackingUri: null },
    engine: { backend: run.backend.backend, version: ENGINE_VERSION },
  });
  const accumulate = execution.accumulateGradBatches;
  const plansPerEpoch = Math.ceil(G / training.batchSize);
  const progress = createProgress({
    enabled: execution.enableProgressBar,
    nepochs: training.nepochs,
    stepsPerEpoch: plansPerEpoch,
    startEpoch,
  });
  const accumulator = createGradientAccumulator();
  let interrupted = false;
  let diverged: Divergence | null = null;
  let stoppedEarly: string | null = null;
  const history: Record<string, number>[] = [];
  const started = performance.now();
  let samples = 0;

  try {
    for (let epoch = startEpoch; epoch < training.nepochs && !interrupted; epoch++) {
      const plan = planBatches(G, training.batchSize, shuffle);
      progress.startEpoch(epoch);
      let lossSum = 0;
      let count = 0;
      let micro = 0;
      for await (const prepared of loader.batches(plan)) {
        if (signal.aborted) {
          interrupted = true;
          break;
        }
        const batch = batchTensors(trainGroups, prepared.indices, prepared.data, N, needsTruth);
        const result = lossAndGradients(model, batch, weights);
        disposeBatch(batch);
        if (!Number.isFinite(result.loss)) {
          // Lightning's detect_anomaly: stop before a NaN step poisons the weights.
          for (const g of result.grads.values()) g.dispose();
          diverged = { what: "loss", epoch, step, loss: result.loss };
          break;
        }
        accumulator.add(result.grads);
        for (const g of result.grads.values()) g.dispose();
        lossSum += result.loss * prepared.indices.length;
        count += prepared.indices.length;
        samples += prepared.indices.length;
        micro++;
        if (micro % accumulate === 0 || micro === plan.length) {
          const mean = accumulator.mean();
          accumulator.reset();
          const clipped =
            execution.gradientClipVal === null
              ? mean
              : clipGradients(mean, {
                  algorithm: execution.gradientClipAlgorithm,
                  clipValue: execution.gradientClipVal,
                  params: variables,
                });
          optimizer.step(clipped, scheduler.lr);
          for (const g of mean.values()) g.dispose();
          if (clipped !== mean) for (const g of clipped.values()) g.dispose();
          step++;
        }
        progress.update(micro, { loss: result.loss });
      }
      if (interrupted || diverged) break;
      const metrics: Record<string, number> = { train_loss: lossSum / Math.max(1, count), lr: scheduler.lr };
      if (testGroups)
        metrics.val_loss = validationLoss(model, testGroups, N, training.batchSize, needsTruth, weights);
      const bad = Object.entries(metrics).find(([, v]) => !Number.isFinite(v));
      if (bad) {
        diverged = { what: bad[0], epoch, step, loss: bad[1] };
        break;
      }
      logger.log(metrics, step, epoch);
      history.push({ epoch, ...metrics });
      scheduler.step(scheduler.needsMetric ? metrics[monitor.name] : undefined);
      const arrays = modelArrays(model);
      if (arrays.some((a) => a.data.some((v) => !Number.isFinite(v)))) {
        // The last step of the epoch made a weight non-finite: never save such a checkpoint.
        diverged = { what: "weights", epoch, step, loss: Number.NaN };
        break;
      }
      const decision = early.update(metrics[monitor.name] ?? Number.NaN, epoch);
      const state = checkpointState(parts, arrays, epoch, step);
      await checkpoints.save({ epoch, step, metrics, payload: state });
      if (decision.stop) {
        stoppedEarly = decision.reason;
        break;
      }
    }
  } finally {
    progress.stop();
    logger.close();
    await loader.close();
    accumulator.dispose();
  }
  const seconds = (performance.now() - started) / 1000;
  return { startEpoch, steps: step, interrupted, diverged, stoppedEarly, history, samples, seconds };
}
