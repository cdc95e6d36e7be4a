// Training phase 3, the epochs: batches (accumulation, clipping, optimizer step, scheduler), then per
// epoch the metrics, validation, logging, a checkpoint and early stopping. Stops cleanly on the
// signal, and before a non-finite loss or weight can reach a checkpoint.
import { ENGINE_VERSION } from "../capabilities.ts";
import { createGradientAccumulator, type GradientAccumulator } from "../loop/gradient-accumulation.ts";
import { createGradientClipper } from "../loop/gradient-clipping.ts";
import { createLogger } from "../loop/loggers/create.ts";
import type { MetricsLogger } from "../loop/loggers/metrics-logger.ts";
import { createProgress, type TrainingProgress } from "../loop/progress.ts";
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

/** What the epochs share: the run's pieces and the counters they advance. */
interface Epochs {
  readonly config: TrainingSections;
  readonly data: TrainingData;
  readonly parts: TrainingParts;
  readonly signal: AbortSignal;
  readonly logger: MetricsLogger;
  readonly progress: TrainingProgress;
  readonly accumulator: GradientAccumulator;
  /** Optimizer steps so far (the resumed ones included). */
  step: number;
  /** Training samples seen by this process. */
  samples: number;
  /** One row per epoch logged by this process. */
  readonly history: Record<string, number>[];
}

/** Why an epoch's batches ended early. */
type Stop = { readonly kind: "interrupted" } | { readonly kind: "diverged"; readonly diverged: Divergence };

/** How an epoch ended: the run goes on, or why it stops. */
type EpochEnd =
  | { readonly kind: "next" }
  | Stop
  | { readonly kind: "stopped"; readonly reason: string | null };

/** Runs the epochs from `start` to `training.nepochs` (the logger and progress bar live only here). */
export async function runEpochs(
  config: TrainingSections,
  data: TrainingData,
  parts: TrainingParts,
  start: StartPoint,
  run: { readonly runDir: string; readonly signal: AbortSignal; readonly backend: BackendInfo },
): Promise<LoopOutcome> {
  const { model: modelConfig, training, execution } = config;
  const logger = createLogger(execution.logger, run.runDir, {
    model: modelConfig,
    training,
    execution: { ...execution, mlflowTrackingUri: null },
    engine: { backend: run.backend.backend, version: ENGINE_VERSION },
  });
  const G = data.trainGroups.grouping.nGroups;
  const progress = createProgress({
    enabled: execution.enableProgressBar,
    nepochs: training.nepochs,
    stepsPerEpoch: Math.ceil(G / training.batchSize),
    startEpoch: start.epoch,
  });
  const epochs: Epochs = {
    config,
    data,
    parts,
    signal: run.signal,
    logger,
    progress,
    accumulator: createGradientAccumulator(),
    step: start.step,
    samples: 0,
    history: [],
  };
  let end: EpochEnd = { kind: "next" };
  const started = performance.now();
  try {
    for (let epoch = start.epoch; epoch < training.nepochs && end.kind === "next"; epoch++) {
      const batches = await trainBatches(epochs, epoch);
      end = "trainLoss" in batches ? await endEpoch(epochs, epoch, batches.trainLoss) : batches;
    }
  } finally {
    progress.stop();
    logger.close();
    await parts.loader.close();
    epochs.accumulator.dispose();
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    startEpoch: start.epoch,
    steps: epochs.step,
    interrupted: end.kind === "interrupted",
    diverged: end.kind === "diverged" ? end.diverged : null,
    stoppedEarly: end.kind === "stopped" ? end.reason : null,
    history: epochs.history,
    samples: epochs.samples,
    seconds,
  };
}

/** One epoch's batches: forward, gradients, accumulation, clipping and optimizer steps. */
async function trainBatches(epochs: Epochs, epoch: number): Promise<{ readonly trainLoss: number } | Stop> {
  const { training, execution } = epochs.config;
  const { trainGroups, needsTruth } = epochs.data;
  const { model, variables, optimizer, scheduler, weights, shuffle, loader } = epochs.parts;
  const { accumulator, progress } = epochs;
  const { N } = epochs.data.train;
  const accumulate = execution.accumulateGradBatches;
  const plan = planBatches(trainGroups.grouping.nGroups, training.batchSize, shuffle);
  const clip =
    execution.gradientClipVal === null
      ? undefined
      : createGradientClipper({
          algorithm: execution.gradientClipAlgorithm,
          clipValue: execution.gradientClipVal,
          params: variables,
        });
  progress.startEpoch(epoch);
  let lossSum = 0;
  let count = 0;
  let micro = 0;
  for await (const prepared of loader.batches(plan)) {
    if (epochs.signal.aborted) return { kind: "interrupted" };
    const batch = batchTensors(trainGroups, prepared.indices, prepared.data, N, needsTruth);
    const result = lossAndGradients(model, batch, weights);
    disposeBatch(batch);
    if (!Number.isFinite(result.loss)) {
      // Lightning's detect_anomaly: stop before a NaN step poisons the weights.
      for (const g of result.grads.values()) g.dispose();
      return { kind: "diverged", diverged: { what: "loss", epoch, step: epochs.step, loss: result.loss } };
    }
    accumulator.add(result.grads);
    for (const g of result.grads.values()) g.dispose();
    lossSum += result.loss * prepared.indices.length;
    count += prepared.indices.length;
    epochs.samples += prepared.indices.length;
    micro++;
    if (micro % accumulate === 0 || micro === plan.length) {
      const mean = accumulator.mean();
      accumulator.reset();
      const clipped = clip === undefined ? mean : clip(mean);
      optimizer.step(clipped, scheduler.lr);
      for (const g of mean.values()) g.dispose();
      if (clipped !== mean) for (const g of clipped.values()) g.dispose();
      epochs.step++;
    }
    progress.update(micro, { loss: result.loss });
  }
  return { trainLoss: lossSum / Math.max(1, count) };
}

/**
 * The end of an epoch: its metrics (with the validation loss), the log row, the learning rate of the
 * next epoch, a checkpoint, and early stopping's decision. A non-finite metric or weight stops the
 * run before anything of the epoch is saved.
 */
async function endEpoch(epochs: Epochs, epoch: number, trainLoss: number): Promise<EpochEnd> {
  const { training, execution } = epochs.config;
  const { testGroups, needsTruth } = epochs.data;
  const { parts } = epochs;
  const { model, scheduler, weights, monitor, checkpoints, early } = parts;
  const { step } = epochs;
  const metrics: Record<string, number> = { train_loss: trainLoss, lr: scheduler.lr };
  if (testGroups && validates(epoch, execution.checkValEveryNEpoch, training.nepochs))
    metrics.val_loss = validationLoss(
      model,
      testGroups,
      epochs.data.train.N,
      training.batchSize,
      needsTruth,
      weights,
    );
  const bad = Object.entries(metrics).find(([, v]) => !Number.isFinite(v));
  if (bad) return { kind: "diverged", diverged: { what: bad[0], epoch, step, loss: bad[1] } };
  epochs.logger.log(metrics, step, epoch);
  epochs.history.push({ epoch, ...metrics });
  // An epoch between validations has no validation metric to monitor: the scheduler keeps a plateau
  // rate, early stopping does not count it, and only last.ckpt is written (Lightning's behaviour).
  const monitored = metrics[monitor.name];
  if (monitored === undefined) scheduler.stepUnmonitored();
  else scheduler.step(scheduler.needsMetric ? monitored : undefined);
  const arrays = modelArrays(model);
  if (arrays.some((a) => a.data.some((v) => !Number.isFinite(v)))) {
    // The last step of the epoch made a weight non-finite: never save such a checkpoint.
    return { kind: "diverged", diverged: { what: "weights", epoch, step, loss: Number.NaN } };
  }
  const decision = monitored === undefined ? null : early.update(monitored, epoch);
  await checkpoints.save({
    ...checkpointState(parts, arrays, epoch, step),
    metrics,
    unranked: monitored === undefined,
  });
  return decision?.stop ? { kind: "stopped", reason: decision.reason } : { kind: "next" };
}

/** Whether epoch `epoch` (0-based) computes the validation loss: every `every`-th, and the last. */
export function validates(epoch: number, every: number, nepochs: number): boolean {
  return (epoch + 1) % every === 0 || epoch === nepochs - 1;
}
