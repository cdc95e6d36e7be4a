// Everything exported here is the public API (the README documents it) except what is marked
// `@internal`: shared with the other trainkit packages only, not part of the public API, free to
// change without a changeset (docs/decisions.md, "Public and internal exports").
export {
  type ConfigError,
  type ConfigIssue,
  type ConfigIssueCode,
  type ConfigWarning,
  isConfigError,
} from "@trainkit/config-meta";
export {
  AMP_ACTIVATIONS,
  ARCHITECTURES,
  FNO_INPUT_TRANSFORMS,
  GENERATOR_OUTPUT_MODES,
  MODEL_DEFAULTS,
  MODEL_TYPES,
  type ModelConfig,
  type ModelConfigInput,
  ModelConfigSchema,
  PROBE_SIZES,
} from "./model-config.ts";
export {
  defineInferenceConfig,
  defineModelConfig,
  defineTrainingConfig,
  /** @internal */ inferenceSection,
  /** @internal */ modelSection,
  parseInferenceConfig,
  parseModelConfig,
  parseTrainingConfig,
  safeParseInferenceConfig,
  safeParseModelConfig,
  safeParseTrainingConfig,
  /** @internal */ trainingSection,
} from "./parse.ts";
export {
  INFERENCE_RULES,
  MODEL_RULES,
  TRAINING_RULES,
} from "./rules.ts";
export {
  type InferenceConfig,
  type InferenceConfigInput,
  InferenceConfigSchema,
  TORCH_LOSS_MODES,
  TRAINING_DEFAULTS,
  type TrainingConfig,
  type TrainingConfigInput,
  TrainingConfigSchema,
  UPSTREAM_BACKENDS,
} from "./training-config.ts";
