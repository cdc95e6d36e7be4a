// Training phase 2, the parts: the model, the optimizer over its trainable variables, the learning-rate
// schedule, the monitored metric, checkpoints, early stopping, the shuffling stream and the batch loader.
import { join } from "node:path";
import { type CheckpointManager, createCheckpointManager } from "../loop/checkpoint-manager.ts";
import { createEarlyStopping, type EarlyStopping } from "../loop/early-stopping.ts";
import { type ResolvedMonitor, resolveMonitor } from "../loop/monitor.ts";
import { createOptimizer, type Optimizer } from "../loop/optimizers.ts";
import { createRng, type Rng } from "../loop/rng.ts";
import { createScheduler, type LrScheduler } from "../loop/schedulers.ts";
import { type BatchLoader, createBatchLoader } from "../loop/workers.ts";
import type { TrainingSections } from "../run-context.ts";
import type { LossWeights } from "../tf/losses.ts";
import { createPtychoModel, meanTotalIntensity, type PtychoModel } from "../tf/model.ts";
import type { tf } from "../tf/tfjs.ts";
import type { TrainingData } from "./data.ts";

/** Everything a training run updates, built from the payload and the data. */
export interface TrainingParts {
  readonly model: PtychoModel;
  /** The trainable variables by name (what the optimizer updates and agc clipping reads). */
  readonly variables: ReadonlyMap<string, tf.Variable>;
  readonly optimizer: Optimizer;
  readonly scheduler: LrScheduler;
  readonly weights: LossWeights;
  readonly monitor: ResolvedMonitor;
  readonly checkpoints: CheckpointManager;
  readonly early: EarlyStopping;
  readonly shuffle: Rng;
  readonly loader: BatchLoader;
  /** The training data's mean total intensity (kept in the bundle). */
  readonly dataIntensity: number;
}

/** Builds the parts of a training run; passes the monitor's fallback warning to `warn`. */
export async function buildTraining(
  config: TrainingSections,
  data: TrainingData,
  runDir: string,
  warn: (message: string) => void,
): Promise<TrainingParts> {
  const { model: modelConfig, training, execution } = config;
  const seed = execution.seed;
  const { train: trainData, trainGroups, testGroups } = data;
  const dataIntensity = meanTotalIntensity(trainData.diffraction, trainData.M);
  const model = createPtychoModel({ model: modelConfig, training }, trainData.probe, seed, {
    meanTotalIntensity: dataIntensity,
  });
  const variables = new Map(model.trainableVariables.map((v) => [v.name, v.variable]));
  const optimizer = createOptimizer(variables, execution);
  const scheduler = createScheduler({ ...execution, nepochs: training.nepochs });
  const weights = {
    nllWeight: training.nllWeight,
    maeWeight: training.maeWeight,
    realspaceWeight: training.realspaceWeight,
    realspaceMaeWeight: training.realspaceMaeWeight,
  };
  const metricNames = ["train_loss", ...(testGroups ? ["val_loss"] : [])];
  const monitor = resolveMonitor(execution.checkpointMonitor, {
    hasValidation: testGroups !== undefined,
    metricNames,
  });
  if (monitor.warning) warn(monitor.warning);
  const checkpoints = await createCheckpointManager({
    dir: join(runDir, "checkpoints"),
    monitor: monitor.name,
    mode: execution.checkpointMode,
    saveTopK: execution.checkpointSaveTopK,
    enabled: execution.enableCheckpointing,
  });
  const early = createEarlyStopping({
    patience: execution.earlyStopPatience,
    mode: execution.checkpointMode,
  });
  const shuffle = createRng(seed, "shuffle");
  const { N } = trainData;
  const C = trainGroups.grouping.C;
  const loader = createBatchLoader(
    { data: trainGroups.diffraction, itemShape: [N, N, C] },
    { numWorkers: execution.numWorkers, prefetchFactor: execution.prefetchFactor },
  );
  return {
    model,
    variables,
    optimizer,
    scheduler,
    weights,
    monitor,
    checkpoints,
    early,
    shuffle,
    loader,
    dataIntensity,
  };
}
