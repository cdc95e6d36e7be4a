import { defineField, type FieldMeta, sectionDefaults } from "@trainkit/config-meta";
import * as z from "zod";

export const PROBE_SIZES = [64, 128, 256] as const;
export const MODEL_TYPES = ["pinn", "supervised"] as const;
export const ARCHITECTURES = ["cnn", "ffno", "fno", "fno_vanilla", "neuralop_uno"] as const;
export const FNO_INPUT_TRANSFORMS = ["none", "sqrt", "log1p", "instancenorm"] as const;
export const GENERATOR_OUTPUT_MODES = ["real_imag", "amp_phase_logits", "amp_phase"] as const;
export const AMP_ACTIVATIONS = ["sigmoid", "swish", "softplus", "relu"] as const;

function model<const T extends z.ZodType>(schema: T, meta: Omit<FieldMeta, "group">): T {
  return defineField(schema, { ...meta, group: "model" });
}

const positiveInt = () => z.int().positive();

/** The network: size, architecture, activation, and how probe and object are modelled. */
export const ModelConfigSchema = z.strictObject({
  N: model(z.literal(PROBE_SIZES).default(64), {
    upstream: "N",
    description: "Diffraction pattern and probe size in pixels (inferred from probeGuess when not set).",
    valueName: "N",
  }),
  gridsize: model(positiveInt().default(1), {
    upstream: "gridsize",
    description: "Side of the group of neighbouring scan positions fed together; channels = gridsize^2.",
    valueName: "N",
  }),
  nFiltersScale: model(positiveInt().default(2), {
    upstream: "n_filters_scale",
    description: "Multiplier of the number of convolution filters in every layer.",
    valueName: "N",
  }),
  modelType: model(z.enum(MODEL_TYPES).default("pinn"), {
    upstream: "model_type",
    description:
      "pinn learns from diffraction through the physics forward model; supervised learns from ground-truth patches.",
    valueAliases: { Unsupervised: "pinn", Supervised: "supervised" },
  }),
  architecture: model(z.enum(ARCHITECTURES).default("cnn"), {
    upstream: "architecture",
    description: "Generator architecture.",
  }),
  fnoModes: model(positiveInt().default(12), {
    upstream: "fno_modes",
    description: "Fourier modes kept per spectral layer (FNO architectures).",
    valueName: "N",
  }),
  fnoWidth: model(positiveInt().default(32), {
    upstream: "fno_width",
    description: "Channel width of the spectral layers (FNO architectures).",
    valueName: "N",
  }),
  fnoBlocks: model(positiveInt().default(4), {
    upstream: "fno_blocks",
    description: "Number of spectral blocks (FNO architectures).",
    valueName: "N",
  }),
  fnoCnnBlocks: model(z.int().min(0).default(2), {
    upstream: "fno_cnn_blocks",
    description: "Convolutional blocks after the spectral blocks (hybrid FNO architectures).",
    valueName: "N",
  }),
  learnedInputChannels: model(positiveInt().default(1), {
    upstream: "learned_input_channels",
    description: "Channels of the learned input lifting (FNO architectures).",
    valueName: "N",
  }),
  maxHiddenChannels: model(positiveInt().nullable().default(null), {
    upstream: "max_hidden_channels",
    description: "Cap on hidden channels; null means no cap.",
    valueName: "N",
  }),
  resnetWidth: model(positiveInt().nullable().default(null), {
    upstream: "resnet_width",
    description: "Width of the residual bottleneck; null uses the architecture's default.",
    valueName: "N",
  }),
  fnoInputTransform: model(z.enum(FNO_INPUT_TRANSFORMS).default("none"), {
    upstream: "fno_input_transform",
    description: "Transform applied to diffraction amplitudes before the spectral layers.",
  }),
  generatorOutputMode: model(z.enum(GENERATOR_OUTPUT_MODES).default("real_imag"), {
    upstream: "generator_output_mode",
    description: "How the generator's output channels encode the complex object.",
  }),
  ampActivation: model(z.enum(AMP_ACTIVATIONS).default("sigmoid"), {
    upstream: "amp_activation",
    description: "Activation of the amplitude decoder's output.",
    valueAliases: { silu: "swish", SiLU: "swish" },
  }),
  objectBig: model(z.boolean().default(true), {
    upstream: "object_big",
    legacyKey: "object.big",
    description:
      "Reassemble the patches of a group on a shared object canvas (needed for overlap constraints).",
  }),
  probeBig: model(z.boolean().default(true), {
    upstream: "probe_big",
    legacyKey: "probe.big",
    description: "Let the probe extend over the full patch instead of its central region.",
  }),
  probeMask: model(z.boolean().default(false), {
    upstream: "probe_mask",
    legacyKey: "probe.mask",
    description: "Apply a soft circular mask to the probe.",
  }),
  probeMaskSigma: model(z.number().positive().default(1), {
    upstream: "probe_mask_sigma",
    description: "Edge softness of the probe mask in pixels.",
    valueName: "PX",
  }),
  probeMaskDiameter: model(z.number().positive().nullable().default(null), {
    upstream: "probe_mask_diameter",
    description: "Probe mask diameter in pixels; null uses N/2.",
    valueName: "PX",
  }),
  padObject: model(z.boolean().default(true), {
    upstream: "pad_object",
    description: "Pad the predicted object so border pixels are reconstructed.",
  }),
  probeScale: model(z.number().positive().default(4), {
    upstream: "probe_scale",
    description: "Scale applied to the probe when normalising it.",
    valueName: "X",
  }),
  gaussianSmoothingSigma: model(z.number().min(0).default(0), {
    upstream: "gaussian_smoothing_sigma",
    description: "Gaussian smoothing of the predicted object in pixels; 0 disables it.",
    valueName: "PX",
  }),
});

export type ModelConfig = z.output<typeof ModelConfigSchema>;
export type ModelConfigInput = z.input<typeof ModelConfigSchema>;
export const MODEL_DEFAULTS: ModelConfig = sectionDefaults(ModelConfigSchema) as ModelConfig;
