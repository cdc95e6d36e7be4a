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
  inferenceSection,
  modelSection,
  parseInferenceConfig,
  parseModelConfig,
  parseTrainingConfig,
  safeParseInferenceConfig,
  safeParseModelConfig,
  safeParseTrainingConfig,
  trainingSection,
} from "./parse.ts";
export { INFERENCE_RULES, MODEL_RULES, TRAINING_RULES } from "./rules.ts";
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
