// Everything exported here is the public API (the README documents it) except what is marked
// `@internal`: shared with the other trainkit packages only, not part of the public API, free to
// change without a changeset (docs/decisions.md, "Public and internal exports").
export type { AuditEntry, ShadowedValue } from "./audit.ts";
export { parseConfigText } from "./config-text.ts";
export {
  /** @internal */ detectEnvironment,
  /** @internal */ environmentEntries,
  /** @internal */ inferredLayer,
  /** @internal */ type RunEnvironment,
} from "./environment.ts";
export {
  FactoryError,
  type FactoryErrorCode,
  isFactoryError,
} from "./errors.ts";
export {
  codeLayer,
  type Layer,
  type LayerEntry,
  layerFromSections,
  type SectionedInput,
} from "./layer.ts";
export {
  fromLegacyParams,
  LEGACY_ONLY_KEYS,
  type LegacyLayer,
  type LegacyParams,
  LegacyParamsStore,
  loadLegacyParamsFile,
  toLegacyParams,
} from "./legacy.ts";
export {
  describeOrigin,
  LEVELS,
  type Level,
  /** @internal */ levelRank,
  type Origin,
  PRECEDENCE,
} from "./levels.ts";
export {
  type AnyPayload,
  createInferencePayload,
  createTrainingPayload,
  type InferencePayload,
  type InferencePayloadConfig,
  type InferencePayloadOptions,
  /** @internal */ inspectTrainingData,
  type Payload,
  resolvePayload,
  /** @internal */ type TrainingDataFacts,
  type TrainingPayload,
  type TrainingPayloadConfig,
  type TrainingPayloadOptions,
  /** @internal */ trainingDataFiles,
  /** @internal */ withProgramValues,
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
export {
  INFERENCE_SPEC,
  PAYLOAD_SPECS,
  type PayloadKind,
  TRAINING_SPEC,
} from "./payload-spec.ts";
export {
  /** @internal */ legacyJson,
  /** @internal */ payloadJson,
  /** @internal */ stringifyWithFloats,
} from "./python-json.ts";
export {
  type PayloadRule,
  type PayloadSpec,
  peekValue,
  type Resolution,
  resolve,
} from "./resolve.ts";
export {
  /** @internal */ CONFIG_SECTIONS,
  envVariableOf,
  /** @internal */ envVariables,
  loadConfigFile,
  loadEnvironment,
  loadRunDirectory,
  /** @internal */ orderSources,
  /** @internal */ RESERVED_ENV,
  type Source,
} from "./sources.ts";
