import { defineField, type FieldMeta, sectionDefaults } from "@trainkit/config-meta";
import * as z from "zod";

export const UPSTREAM_BACKENDS = ["tensorflow", "pytorch"] as const;
export const TORCH_LOSS_MODES = ["poisson", "mae"] as const;

type Meta = Omit<FieldMeta, "group"> & { readonly group?: FieldMeta["group"] };

function field<const T extends z.ZodType>(schema: T, meta: Meta): T {
  return defineField(schema, { group: "training", ...meta });
}

const positiveInt = () => z.int().positive();
const path = () => z.string().min(1);
const isPowerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/** Fields that training and inference share: how scan positions are grouped and sampled. */
const sampling = {
  nSubsample: field(positiveInt().nullable().default(null), {
    group: "data",
    upstream: "n_subsample",
    description: "Number of diffraction images to subsample before grouping; null uses all.",
    valueName: "N",
  }),
  subsampleSeed: field(z.int().min(0).nullable().default(null), {
    group: "data",
    upstream: "subsample_seed",
    description: "Seed of the subsampling and grouping; null draws a fresh seed.",
    valueName: "N",
  }),
  neighborCount: field(positiveInt().default(4), {
    group: "data",
    upstream: "neighbor_count",
    description: "Nearest neighbours (K) searched when forming a group of gridsize^2 positions.",
    aliases: [{ name: "K", deprecated: false }],
    valueName: "K",
  }),
  enableOversampling: field(z.boolean().default(false), {
    group: "data",
    upstream: "enable_oversampling",
    description: "Allow more groups than scan positions by reusing positions in different groups.",
  }),
  neighborPoolSize: field(positiveInt().nullable().default(null), {
    group: "data",
    upstream: "neighbor_pool_size",
    description: "Size of the neighbour pool drawn from when oversampling; null uses neighborCount.",
    valueName: "N",
  }),
  backend: field(z.enum(UPSTREAM_BACKENDS).default("tensorflow"), {
    upstream: "backend",
    flag: "upstream-backend",
    description: "Upstream implementation the legacy code dispatches to (kept for params.cfg readers).",
  }),
};

/** How to train: data, sampling, epochs, batch, losses and physics scale. */
export const TrainingConfigSchema = z.strictObject({
  trainDataFile: field(path().nullable().default(null), {
    group: "data",
    upstream: "train_data_file",
    legacyKey: "train_data_file_path",
    description: "Training data (.npz following the PtychoPINN data contract).",
    flagAliases: ["train_data_file"],
    valueName: "FILE",
  }),
  testDataFile: field(path().nullable().default(null), {
    group: "data",
    upstream: "test_data_file",
    legacyKey: "test_data_file_path",
    description: "Validation data (.npz); null trains without validation.",
    flagAliases: ["test_data_file"],
    valueName: "FILE",
  }),
  batchSize: field(
    positiveInt().refine(isPowerOfTwo, { error: "must be a power of two (1, 2, 4, 8, ...)" }).default(16),
    {
      upstream: "batch_size",
      description: "Groups per optimisation step; a power of two.",
      flagAliases: ["batch_size", "batch"],
      valueName: "N",
    },
  ),
  nepochs: field(positiveInt().default(50), {
    upstream: "nepochs",
    description: "Training epochs.",
    aliases: [
      { name: "epochs", deprecated: false },
      { name: "maxEpochs", deprecated: true },
    ],
    flagAliases: ["max_epochs", "max-epochs", "epochs"],
    valueName: "N",
  }),
  maeWeight: field(z.number().min(0).max(1).default(0), {
    upstream: "mae_weight",
    description: "Weight of the mean-absolute-error diffraction loss, in [0, 1].",
    valueName: "W",
  }),
  nllWeight: field(z.number().min(0).max(1).default(1), {
    upstream: "nll_weight",
    description: "Weight of the Poisson negative log-likelihood loss, in [0, 1].",
    valueName: "W",
  }),
  realspaceMaeWeight: field(z.number().min(0).default(0), {
    upstream: "realspace_mae_weight",
    description: "Weight of the real-space MAE loss (needs realspaceWeight > 0).",
    valueName: "W",
  }),
  realspaceWeight: field(z.number().min(0).default(0), {
    upstream: "realspace_weight",
    description: "Overall weight of the real-space losses.",
    valueName: "W",
  }),
  nphotons: field(z.number().positive().default(1e9), {
    upstream: "nphotons",
    description: "Expected photons per diffraction pattern (read from the data's metadata when not set).",
    valueName: "X",
  }),
  nGroups: field(positiveInt().default(512), {
    group: "data",
    upstream: "n_groups",
    description: "Number of groups of scan positions to train on (required for training, as upstream).",
    aliases: [{ name: "nImages", deprecated: true }],
    flagAliases: ["n_groups"],
    deprecatedFlags: [{ flag: "n_images" }],
    valueName: "N",
  }),
  ...sampling,
  foldCount: field(z.int().min(2).nullable().default(null), {
    group: "data",
    upstream: "fold_count",
    legacyKey: null,
    description:
      "k-fold cross-validation: split the training file's scan positions into this many spatially contiguous folds; null trains on every position.",
    valueName: "K",
  }),
  foldIndex: field(z.int().min(0).nullable().default(null), {
    group: "data",
    upstream: "fold_index",
    legacyKey: null,
    description:
      "The fold (0-based, below foldCount) held out for validation: training uses the other folds and val_loss this one, instead of testDataFile.",
    valueName: "I",
  }),
  positionsProvided: field(z.boolean().default(true), {
    upstream: "positions_provided",
    legacyKey: "positions.provided",
    description: "Scan positions are given in the data (else they are learned from a grid).",
  }),
  probeTrainable: field(z.boolean().default(false), {
    upstream: "probe_trainable",
    legacyKey: "probe.trainable",
    description: "Refine the probe during training.",
  }),
  intensityScaleTrainable: field(z.boolean().default(true), {
    upstream: "intensity_scale_trainable",
    legacyKey: "intensity_scale.trainable",
    description: "Learn the intensity scale instead of fixing it from nphotons.",
  }),
  outputDir: field(path().default("training_outputs"), {
    group: "output",
    upstream: "output_dir",
    legacyKey: "output_prefix",
    description: "Run directory for the payload, audit, checkpoints, metrics and model bundle.",
    flagAliases: ["output_dir"],
    valueName: "DIR",
  }),
  sequentialSampling: field(z.boolean().default(false), {
    group: "data",
    upstream: "sequential_sampling",
    description: "Form groups from consecutive scan positions instead of random draws.",
  }),
  torchLossMode: field(z.enum(TORCH_LOSS_MODES).default("poisson"), {
    upstream: "torch_loss_mode",
    description: "Diffraction loss of the PyTorch trainer.",
  }),
  torchMaePredL2MatchTarget: field(z.boolean().default(false), {
    upstream: "torch_mae_pred_l2_match_target",
    description: "MAE loss mode: rescale predictions to the target's L2 norm first.",
  }),
});

export type TrainingConfig = z.output<typeof TrainingConfigSchema>;
export type TrainingConfigInput = z.input<typeof TrainingConfigSchema>;
export const TRAINING_DEFAULTS: TrainingConfig = sectionDefaults(TrainingConfigSchema) as TrainingConfig;

/** How to run a trained model on new data. */
export const InferenceConfigSchema = z.strictObject({
  modelPath: field(path(), {
    group: "data",
    upstream: "model_path",
    description: "Training run directory (or its model.zip) holding the model bundle.",
    flagAliases: ["model_path"],
    valueName: "PATH",
  }),
  testDataFile: field(path(), {
    group: "data",
    upstream: "test_data_file",
    legacyKey: "test_data_file_path",
    description: "Data to reconstruct (.npz following the PtychoPINN data contract).",
    flagAliases: ["test_data_file", "test_data"],
    valueName: "FILE",
  }),
  nGroups: field(positiveInt().nullable().default(null), {
    group: "data",
    upstream: "n_groups",
    description: "Number of groups to reconstruct; null uses every scan position.",
    aliases: [{ name: "nImages", deprecated: true }],
    flagAliases: ["n_groups"],
    deprecatedFlags: [{ flag: "n_images" }],
    valueName: "N",
  }),
  ...sampling,
  debug: field(z.boolean().default(false), {
    group: "inference",
    upstream: "debug",
    description: "Write intermediate arrays for debugging.",
  }),
  outputDir: field(path().default("inference_outputs"), {
    group: "output",
    upstream: "output_dir",
    legacyKey: "output_prefix",
    description: "Run directory for the reconstruction, images and metrics.",
    flagAliases: ["output_dir"],
    valueName: "DIR",
  }),
});

export type InferenceConfig = z.output<typeof InferenceConfigSchema>;
export type InferenceConfigInput = z.input<typeof InferenceConfigSchema>;
