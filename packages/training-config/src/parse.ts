import {
  type ConfigWarning,
  createSection,
  type ParseOptions,
  type SafeParseResult,
  type Section,
} from "@trainkit/config-meta";
import { type ModelConfig, type ModelConfigInput, ModelConfigSchema } from "./model-config.ts";
import { INFERENCE_RULES, MODEL_RULES, TRAINING_RULES } from "./rules.ts";
import {
  type InferenceConfig,
  type InferenceConfigInput,
  InferenceConfigSchema,
  type TrainingConfig,
  type TrainingConfigInput,
  TrainingConfigSchema,
} from "./training-config.ts";

type Options = ParseOptions & { readonly onWarning?: (warning: ConfigWarning) => void };

export const modelSection: Section<typeof ModelConfigSchema> = createSection(
  "model",
  ModelConfigSchema,
  MODEL_RULES,
);
export const trainingSection: Section<typeof TrainingConfigSchema> = createSection(
  "training",
  TrainingConfigSchema,
  TRAINING_RULES,
);
export const inferenceSection: Section<typeof InferenceConfigSchema> = createSection(
  "inference",
  InferenceConfigSchema,
  INFERENCE_RULES,
);

/** Parses a model config, filling defaults; throws `ConfigError` listing every problem. */
export function parseModelConfig(input: unknown, options?: Options): ModelConfig {
  return modelSection.parse(input, options);
}
/** Like `parseModelConfig`, returning the error and warnings instead of throwing. */
export function safeParseModelConfig(input: unknown, options?: ParseOptions): SafeParseResult<ModelConfig> {
  return modelSection.safeParse(input, options);
}
/** Parses a training config (without its model section). */
export function parseTrainingConfig(input: unknown, options?: Options): TrainingConfig {
  return trainingSection.parse(input, options);
}
/** Like `parseTrainingConfig`, returning the error and warnings instead of throwing. */
export function safeParseTrainingConfig(
  input: unknown,
  options?: ParseOptions,
): SafeParseResult<TrainingConfig> {
  return trainingSection.safeParse(input, options);
}
/** Parses an inference config (without its model section); modelPath and testDataFile are required. */
export function parseInferenceConfig(input: unknown, options?: Options): InferenceConfig {
  return inferenceSection.parse(input, options);
}
/** Like `parseInferenceConfig`, returning the error and warnings instead of throwing. */
export function safeParseInferenceConfig(
  input: unknown,
  options?: ParseOptions,
): SafeParseResult<InferenceConfig> {
  return inferenceSection.safeParse(input, options);
}

/** Identity helpers that type-check authored configs. */
export function defineModelConfig<const T extends ModelConfigInput>(config: T): T {
  return config;
}
export function defineTrainingConfig<const T extends TrainingConfigInput>(config: T): T {
  return config;
}
export function defineInferenceConfig<const T extends InferenceConfigInput>(config: T): T {
  return config;
}
