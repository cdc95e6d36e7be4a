// The embedded training run: data -> groups -> model -> epochs (batches, accumulation, clipping,
// optimizer, scheduler, validation, logging, checkpoints, early stopping) -> model bundle.
// Every execution knob the engine declares as supported changes what happens here.
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { assignSpatialFolds, splitFold, writeModelBundle } from "@trainkit/data";
import type { ExecutionConfig } from "@trainkit/execution-config";
import type { ModelConfig, TrainingConfig } from "@trainkit/training-config";
import { ENGINE_VERSION } from "./capabilities.ts";
import { startCompute } from "./compute.ts";
import { type GroupedData, groupScanData, loadScanData, type ScanData, subsetScanData } from "./dataset.ts";
import {
  createCheckpointManager,
  createEarlyStopping,
  LAST_CHECKPOINT,
  readCheckpoint,
  resolveMonitor,
} from "./loop/checkpoints.ts";
import { createLogger } from "./loop/loggers.ts";
import {
  clipGradients,
  createGradientAccumulator,
  createOptimizer,
  optimizerOptionsFrom,
} from "./loop/optimizers.ts";
import { createProgress } from "./loop/progress.ts";
import { createRng } from "./loop/rng.ts";
import { createScheduler } from "./loop/schedulers.ts";
import { createBatchLoader, planBatches } from "./loop/workers.ts";
import { writeLossCurve } from "./plot.ts";
import { decodeState, encodeState, type NamedArray } from "./state.ts";
import { createPtychoModel, meanTotalIntensity, type PtychoModel } from "./tf/model.ts";
import { evaluate, lossAndGradients, type TrainingBatch } from "./tf/step.ts";
import { tf } from "./tf/tfjs.ts";

export interface TrainingConfigSections {
  readonly model: ModelConfig;
  readonly training: TrainingConfig;
  readonly execution: ExecutionConfig;
}

/** What the launcher hands the engine (structurally the launcher's `RunContext`). */
export interface EngineContext {
  readonly payload: {
    readonly kind: "training" | "inference";
    readonly config: unknown;
    readonly legacy: Readonly<Record<string, unknown>>;
  };
  readonly runDir: string;
  readonly resume: boolean;
  readonly signal: AbortSignal;
  readonly io: { readonly stdout: (text: string) => void; readonly stderr: (text: string) => void };
  /** The job's environment (TRAINKIT_THREAD_BUDGET for `computeThreads: auto`); `process.env` when absent. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface EngineResult {
  readonly status: "succeeded" | "failed" | "interrupted";
  readonly message?: string;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly outputs?: Readonly<Record<string, string>>;
  readonly resolved?: readonly { readonly path: string; readonly value: unknown; readonly reason: string }[];
}

/** Model weights as named arrays (the bundle's and the checkpoints' format). */
export function modelArrays(model: PtychoModel): NamedArray[] {
  return model.variables.map((v) => ({
    name: v.name,
    shape: v.variable.shape,
    data: v.variable.dataSync() as Float32Array,
  }));
}

/** Assigns saved arrays to a model's variables, checking names and shapes. */
export function loadModelArrays(model: PtychoModel, arrays: readonly NamedArray[], what: string): void {
  const byName = new Map(arrays.map((a) => [a.name, a]));
  for (const v of model.variables) {
    const saved = byName.get(v.name);
    if (!saved || saved.data.length !== v.variable.size) {
      throw new Error(
        `${what} does not fit this model (variable ${v.name}); was it written by another model configuration?`,
      );
    }
    v.variable.assign(tf.tensor(saved.data, v.variable.shape));
  }
}

function batchTensors(
  data: GroupedData,
  indices: Int32Array,
  diffraction: Float32Array,
  N: number,
  needsTruth: boolean,
): TrainingBatch {
  const { C, offsets } = data.grouping;
  const B = indices.length;
  const batchOffsets = new Float32Array(B * C * 2);
  for (let b = 0; b < B; b++) {
    const g = indices[b]!;
    for (let k = 0; k < C * 2; k++) batchOffsets[b * C * 2 + k] = offsets[g * C * 2 + k]!;
  }
  let groundTruth: TrainingBatch["groundTruth"];
  if (needsTruth && data.groundTruth) {
    const size = N * N * C;
    const re = new Float32Array(B * size);
    const im = new Float32Array(B * size);
    for (let b = 0; b < B; b++) {
      const g = indices[b]!;
      re.set(data.groundTruth.re.subarray(g * size, (g + 1) * size), b * size);
      im.set(data.groundTruth.im.subarray(g * size, (g + 1) * size), b * size);
    }
    groundTruth = { re: tf.tensor4d(re, [B, N, N, C]), im: tf.tensor4d(im, [B, N, N, C]) };
  }
  return {
    diffraction: tf.tensor4d(diffraction, [B, N, N, C]),
    ...(C > 1 ? { offsets: { data: batchOffsets, shape: [B, C, 2] } } : {}),
    ...(groundTruth ? { groundTruth } : {}),
  };
}

function disposeBatch(batch: TrainingBatch): void {
  batch.diffraction.dispose();
  batch.groundTruth?.re.dispose();
  batch.groundTruth?.im.dispose();
}

/** Trains the model of a training payload in `runDir`. */
export async function train(context: EngineContext): Promise<EngineResult> {
  const { model: modelConfig, training, execution } = context.payload.config as TrainingConfigSections;
  const { io, runDir, signal } = context;
  const compute = await startCompute(execution, context.env ?? process.env, (message) =>
    io.stderr(`trainkit-train: warning: ${message}\n`),
  );
  const { backend } = compute;
  const seed = execution.seed;

  const allData = await loadScanData(training.trainDataFile!);
  const split = foldSplit(allData, training);
  if ("message" in split) return { status: "failed", message: split.message };
  const trainData = split.folds ? subsetScanData(allData, split.folds.train) : allData;
  const testData: ScanData | undefined = split.folds
    ? subsetScanData(allData, split.folds.validation)
    : training.testDataFile
      ? await loadScanData(training.testDataFile)
      : undefined;
  const needsTruth = modelConfig.modelType === "supervised" || training.realspaceWeight > 0;
  if (needsTruth && !trainData.groundTruth) {
    return {
      status: "failed",
      message: `${trainData.file} has no ground-truth patches Y, which ${modelConfig.modelType === "supervised" ? "supervised training" : "the real-space losses"} need.`,
    };
  }
  const trainGroups = groupScanData(trainData, modelConfig.gridsize, training, seed);
  // A held-out fold is validated on every one of its positions (each the seed of one group, in scan
  // order, neighbours from the fold only); a test file on at most nGroups groups, as before.
  const testGroups = testData
    ? groupScanData(
        testData,
        modelConfig.gridsize,
        split.folds
          ? {
              ...training,
              nGroups: testData.M,
              nSubsample: null,
              sequentialSampling: true,
              enableOversampling: false,
            }
          : { ...training, nGroups: Math.min(training.nGroups, testData.M) },
        seed + 1,
      )
    : undefined;
  if (split.folds) {
    await mkdir(runDir, { recursive: true });
    await writeFile(
      join(runDir, FOLDS_FILE),
      `${JSON.stringify({ ...split.summary, trainPositions: [...split.folds.train], validationPositions: [...split.folds.validation] })}\n`,
    );
  }
  for (const warning of trainGroups.grouping.warnings) io.stderr(`trainkit-train: warning: ${warning}\n`);

  const dataIntensity = meanTotalIntensity(trainData.diffraction, trainData.M);
  const model = createPtychoModel({ model: modelConfig, training }, trainData.probe, seed, {
    meanTotalIntensity: dataIntensity,
  });
  const variables = new Map(model.trainableVariables.map((v) => [v.name, v.variable]));
  const optimizer = createOptimizer(variables, optimizerOptionsFrom(execution));
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
  if (monitor.warning) io.stderr(`trainkit-train: warning: ${monitor.warning}\n`);
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
  const G = trainGroups.grouping.nGroups;
  const loader = createBatchLoader(
    { data: trainGroups.diffraction, itemShape: [N, N, C] },
    { numWorkers: execution.numWorkers, prefetchFactor: execution.prefetchFactor },
  );

  let startEpoch = 0;
  let step = 0;
  const lastPath = join(runDir, "checkpoints", LAST_CHECKPOINT);
  if (context.resume) {
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
      io.stderr(`trainkit-train: warning: --resume: no ${lastPath} yet; starting from the beginning\n`);
    }
  }

  const logger = createLogger(execution.logger as "csv" | "tensorboard" | "none", runDir, {
    model: modelConfig,
    training,
    execution: { ...execution, mlflowTrackingUri: null },
    engine: { backend: backend.backend, version: ENGINE_VERSION },
  } as unknown as Record<string, unknown>);
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
  let diverged: { what: string; epoch: number; step: number; loss: number } | null = null;
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
      const optimizerState = optimizer.getState();
      const state = encodeState({
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
  const details = {
    ...compute.details,
    engineVersion: ENGINE_VERSION,
    parameters: model.parameterCount(true),
    groups: G,
    channels: C,
    trainPositions: trainData.M,
    validation: split.folds
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
    steps: step,
    monitor: monitor.name,
    ...(monitor.warning ? { monitorWarning: monitor.warning } : {}),
    ...(stoppedEarly ? { earlyStopping: stoppedEarly } : {}),
    trainingSamplesPerSecond: samples / Math.max(seconds, 1e-9),
    lastMetrics: history.at(-1) ?? null,
    bestCheckpoint: checkpoints.bestPath,
  };
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
  const figures = await writeLossCurve(runDir, history, (m) => io.stderr(`trainkit-train: warning: ${m}\n`));
  const bundlePath = join(runDir, "model.zip");
  await writeModelBundle(bundlePath, {
    backend: "embedded",
    packages: { "@trainkit/engine": ENGINE_VERSION },
    payload: { kind: "training", config: context.payload.config, engine: details },
    legacyParams: { ...context.payload.legacy, intensity_scale: model.intensityScale() },
    weights: {
      "weights.bin": encodeState({
        arrays: modelArrays(model),
        meta: { intensityScale: model.initialIntensityScale, meanTotalIntensity: dataIntensity },
      }),
    },
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
      ...(split.folds ? { folds: FOLDS_FILE } : {}),
      ...(execution.logger !== "none" ? { metrics: "lightning_logs/" } : {}),
      ...(execution.enableCheckpointing ? { checkpoints: "checkpoints/" } : {}),
    },
  };
}

/** Written to the run directory of a k-fold run: which positions trained and which validated. */
export const FOLDS_FILE = "folds.json";

interface FoldSummary {
  readonly trainDataFile: string;
  readonly foldCount: number;
  readonly foldIndex: number;
  readonly axis: "x" | "y";
  readonly sizes: readonly number[];
  readonly trainPositionCount: number;
  readonly validationPositionCount: number;
}

/** The positions of the training file that train and that validate, when the payload asks for folds. */
function foldSplit(
  data: ScanData,
  training: TrainingConfig,
):
  | { readonly folds?: undefined }
  | { readonly folds: ReturnType<typeof splitFold>; readonly summary: FoldSummary }
  | { readonly message: string } {
  if (training.foldCount === null || training.foldIndex === null) return {};
  let assignment: ReturnType<typeof assignSpatialFolds>;
  try {
    assignment = assignSpatialFolds(data.x, data.y, training.foldCount);
  } catch (error) {
    return {
      message: `training.foldCount ${training.foldCount} on ${data.file}: ${(error as Error).message}`,
    };
  }
  const folds = splitFold(assignment, training.foldIndex);
  return {
    folds,
    summary: {
      trainDataFile: data.file,
      foldCount: assignment.foldCount,
      foldIndex: training.foldIndex,
      axis: assignment.axis,
      sizes: assignment.sizes,
      trainPositionCount: folds.train.length,
      validationPositionCount: folds.validation.length,
    },
  };
}

function validationLoss(
  model: PtychoModel,
  data: GroupedData,
  N: number,
  batchSize: number,
  needsTruth: boolean,
  weights: Parameters<typeof evaluate>[2],
): number {
  const { C, nGroups: G } = data.grouping;
  const size = N * N * C;
  let sum = 0;
  for (let start = 0; start < G; start += batchSize) {
    const indices = Int32Array.from({ length: Math.min(batchSize, G - start) }, (_, i) => start + i);
    const batch = batchTensors(
      data,
      indices,
      data.diffraction.slice(start * size, (start + indices.length) * size),
      N,
      needsTruth,
    );
    sum += evaluate(model, batch, weights).loss * indices.length;
    disposeBatch(batch);
  }
  return sum / Math.max(1, G);
}
