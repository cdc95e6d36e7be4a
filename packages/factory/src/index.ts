export type { AuditEntry, ShadowedValue } from "./audit.ts";
export { parseConfigText } from "./config-text.ts";
export { detectEnvironment, environmentEntries, inferredLayer, type RunEnvironment } from "./environment.ts";
export { FactoryError, type FactoryErrorCode, isFactoryError } from "./errors.ts";
export { codeLayer, type Layer, type LayerEntry, layerFromSections, type SectionedInput } from "./layer.ts";
export {
  fromLegacyParams,
  LEGACY_ONLY_KEYS,
  type LegacyLayer,
  type LegacyParams,
  LegacyParamsStore,
  loadLegacyParamsFile,
  toLegacyParams,
} from "./legacy.ts";
export { describeOrigin, LEVELS, type Level, levelRank, type Origin, PRECEDENCE } from "./levels.ts";
export {
  type AnyPayload,
  createInferencePayload,
  createTrainingPayload,
  type InferencePayload,
  type InferencePayloadConfig,
  type InferencePayloadOptions,
  inspectTrainingData,
  type Payload,
  resolvePayload,
  type TrainingDataFacts,
  type TrainingPayload,
  type TrainingPayloadConfig,
  type TrainingPayloadOptions,
  trainingDataFiles,
  withProgramValues,
} from "./payload.ts";
export {
  type LoadedPayload,
  type LoadPayloadFileOptions,
  loadPayloadFile,
  type PayloadDocument,
  payloadDocument,
  payloadSha256,
  renderPayloadDocument,
  sha256Hex,
} from "./payload-file.ts";
export { INFERENCE_SPEC, PAYLOAD_SPECS, type PayloadKind, TRAINING_SPEC } from "./payload-spec.ts";
export { legacyJson, payloadJson, stringifyWithFloats } from "./python-json.ts";
export { type PayloadRule, type PayloadSpec, peekValue, type Resolution, resolve } from "./resolve.ts";
export {
  CONFIG_SECTIONS,
  envVariableOf,
  envVariables,
  loadConfigFile,
  loadEnvironment,
  loadRunDirectory,
  orderSources,
  RESERVED_ENV,
  type Source,
} from "./sources.ts";
