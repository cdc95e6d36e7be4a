// Training phase 1, the data: the training file (split into folds when asked), the validation data
// (the held-out fold or the test file), and their neighbour groups.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { assignSpatialFolds, splitFold } from "@trainkit/data";
import type { TrainingConfig } from "@trainkit/training-config";
import { type GroupedData, groupScanData, loadScanData, type ScanData, subsetScanData } from "../dataset.ts";
import type { TrainingSections } from "../run-context.ts";

/** Written to the run directory of a k-fold run: which positions trained and which validated. */
export const FOLDS_FILE = "folds.json";

export interface FoldSummary {
  readonly trainDataFile: string;
  readonly foldCount: number;
  readonly foldIndex: number;
  readonly axis: "x" | "y";
  readonly sizes: readonly number[];
  readonly trainPositionCount: number;
  readonly validationPositionCount: number;
}

/** The positions of a k-fold run: those that train, those that validate, and the summary of the split. */
export interface FoldSplit {
  readonly folds: ReturnType<typeof splitFold>;
  readonly summary: FoldSummary;
}

/** The data of a training run, grouped. */
export interface TrainingData {
  readonly train: ScanData;
  /** The held-out fold or the test file; undefined without validation. */
  readonly test: ScanData | undefined;
  readonly trainGroups: GroupedData;
  readonly testGroups: GroupedData | undefined;
  /** Set for a k-fold run. */
  readonly split: FoldSplit | undefined;
  /** Whether the losses need the ground-truth patches (supervised, or real-space weights). */
  readonly needsTruth: boolean;
}

/**
 * Loads, splits and groups the data of a training payload; writes `folds.json` for a k-fold run
 * and passes the grouping's warnings to `warn`. A problem with the data is returned as `failure`.
 */
export async function prepareTrainingData(
  config: TrainingSections,
  runDir: string,
  warn: (message: string) => void,
): Promise<TrainingData | { readonly failure: string }> {
  const { model: modelConfig, training, execution } = config;
  const seed = execution.seed;
  const allData = await loadScanData(training.trainDataFile!);
  const split = foldSplit(allData, training);
  if ("message" in split) return { failure: split.message };
  const trainData = split.folds ? subsetScanData(allData, split.folds.train) : allData;
  const testData: ScanData | undefined = split.folds
    ? subsetScanData(allData, split.folds.validation)
    : training.testDataFile
      ? await loadScanData(training.testDataFile)
      : undefined;
  const needsTruth = modelConfig.modelType === "supervised" || training.realspaceWeight > 0;
  if (needsTruth && !trainData.groundTruth) {
    return {
      failure: `${trainData.file} has no ground-truth patches Y, which ${modelConfig.modelType === "supervised" ? "supervised training" : "the real-space losses"} need.`,
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
  for (const warning of trainGroups.grouping.warnings) warn(warning);
  return {
    train: trainData,
    test: testData,
    trainGroups,
    testGroups,
    split: split.folds ? { folds: split.folds, summary: split.summary } : undefined,
    needsTruth,
  };
}

/** The positions of the training file that train and that validate, when the payload asks for folds. */
function foldSplit(
  data: ScanData,
  training: TrainingConfig,
): { readonly folds?: undefined } | FoldSplit | { readonly message: string } {
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
