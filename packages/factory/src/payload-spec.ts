import { listFields, renderValue } from "@trainkit/config-meta";
import { ExecutionConfigSchema, executionSection } from "@trainkit/execution-config";
import { inferenceSection, modelSection, trainingSection } from "@trainkit/training-config";
import type { PayloadRule, PayloadSpec } from "./resolve.ts";

export type PayloadKind = "training" | "inference";

type Config = Readonly<Record<string, Readonly<Record<string, unknown>>>>;
const num = (config: Config, path: string): number => {
  const [s, k] = path.split(".") as [string, string];
  return config[s]?.[k] as number;
};

/** Forming a group of gridsize^2 positions needs at least that many neighbours. */
const neighboursForGroups = (section: "training" | "inference"): PayloadRule => ({
  name: "neighbours-for-groups",
  check: (config) => {
    const gridsize = num(config, "model.gridsize");
    const k = num(config, `${section}.neighborCount`);
    return gridsize > 1 && k < gridsize * gridsize
      ? [
          {
            severity: "warning",
            code: "SUSPICIOUS_VALUE",
            field: `${section}.neighborCount`,
            message: `${section}.neighborCount (${k}) is below gridsize^2 (${gridsize * gridsize}): a group of ${gridsize}x${gridsize} positions cannot be drawn from ${k} distinct neighbours; raise neighborCount or lower model.gridsize.`,
          },
        ]
      : [];
  },
});

const warmupShorterThanTraining: PayloadRule = {
  name: "warmup-shorter-than-training",
  check: (config) => {
    const warmup = num(config, "execution.lrWarmupEpochs");
    const epochs = num(config, "training.nepochs");
    return config.execution?.scheduler === "WarmupCosine" && warmup >= epochs
      ? [
          {
            severity: "warning",
            code: "UNUSED_SETTING",
            field: "execution.lrWarmupEpochs",
            message: `lrWarmupEpochs (${warmup}) >= nepochs (${epochs}): the cosine decay never starts.`,
          },
        ]
      : [];
  },
};

const cadenceWithoutValidation: PayloadRule = {
  name: "cadence-without-validation",
  check: (config) => {
    const every = num(config, "execution.checkValEveryNEpoch");
    const validated = config.training?.testDataFile != null || config.training?.foldCount != null;
    return every > 1 && !validated
      ? [
          {
            severity: "warning",
            code: "UNUSED_SETTING",
            field: "execution.checkValEveryNEpoch",
            message: `checkValEveryNEpoch (${every}) has no effect: the run has no validation data (set training.testDataFile or training.foldCount).`,
          },
        ]
      : [];
  },
};

/**
 * Execution settings that only one kind of job reads: optimisation, checkpoints and the metrics
 * logger for training, the inference category (batch, trimming, stitching) for inference. Both
 * commands accept every execution flag and share config files, so a value set away from its default
 * for the other job is reported instead of silently doing nothing.
 */
const otherJobSettings = (kind: "training" | "inference"): PayloadRule => {
  const trainingOnly = (category: string | undefined, key: string) =>
    category === "optimisation" ||
    category === "checkpoints" ||
    key === "logger" ||
    key === "mlflowTrackingUri";
  let fields: ReturnType<typeof listFields> | undefined;
  // Listed on first use: building the field list is not start-up work.
  const otherJobFields = () => {
    fields ??= listFields(ExecutionConfigSchema).filter((f) =>
      kind === "training" ? f.meta.category === "inference" : trainingOnly(f.meta.category, f.key),
    );
    return fields;
  };
  const run = kind === "training" ? "a training run" : "an inference run";
  const other = kind === "training" ? "trainkit-infer (inference)" : "trainkit-train (training)";
  return {
    name: "other-job-settings",
    check: (config) =>
      otherJobFields()
        .filter((f) => JSON.stringify(config.execution?.[f.key]) !== JSON.stringify(f.defaultValue))
        .map((f) => ({
          severity: "warning",
          code: "UNUSED_SETTING",
          field: `execution.${f.key}`,
          message: `execution.${f.key} is ${renderValue(config.execution?.[f.key], f.meta.secret === true)} but has no effect in ${run}: it applies to ${other} only.`,
        })),
  };
};

const HOW_TO_SET = (flag: string, path: string, env: string): string =>
  `Set it with ${flag} on the command line, ${path} in a config file, or ${env}.`;

/** What a training payload is made of: `{ model, training, execution }`. */
export const TRAINING_SPEC: PayloadSpec = {
  sections: { model: modelSection, training: trainingSection, execution: executionSection },
  foreignSections: ["inference", "launcher"],
  rules: [
    neighboursForGroups("training"),
    warmupShorterThanTraining,
    cadenceWithoutValidation,
    otherJobSettings("training"),
  ],
  required: {
    "training.trainDataFile": HOW_TO_SET(
      "--train-data-file FILE",
      "training.trainDataFile",
      "TRAINKIT_TRAINING_TRAIN_DATA_FILE",
    ),
    "training.nGroups": `${HOW_TO_SET("--n-groups N", "training.nGroups", "TRAINKIT_TRAINING_N_GROUPS")} Upstream requires it too (there is no default).`,
  },
};

/** What an inference payload is made of: `{ model, inference, execution }`. */
export const INFERENCE_SPEC: PayloadSpec = {
  sections: { model: modelSection, inference: inferenceSection, execution: executionSection },
  foreignSections: ["training", "launcher"],
  rules: [neighboursForGroups("inference"), otherJobSettings("inference")],
  required: {
    "inference.modelPath": HOW_TO_SET(
      "--model-path PATH",
      "inference.modelPath",
      "TRAINKIT_INFERENCE_MODEL_PATH",
    ),
    "inference.testDataFile": HOW_TO_SET(
      "--test-data-file FILE",
      "inference.testDataFile",
      "TRAINKIT_INFERENCE_TEST_DATA_FILE",
    ),
  },
};

export const PAYLOAD_SPECS: Readonly<Record<PayloadKind, PayloadSpec>> = {
  training: TRAINING_SPEC,
  inference: INFERENCE_SPEC,
};
