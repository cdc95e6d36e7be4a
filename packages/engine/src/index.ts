export { type Capability, EMBEDDED_CAPABILITIES, ENGINE_VERSION } from "./capabilities.ts";
export { infer } from "./infer.ts";
export type {
  EngineContext,
  EngineIO,
  EngineResult,
  InferenceContext,
  InferenceSections,
  TrainingContext,
  TrainingSections,
} from "./run-context.ts";
export { decodeState, type EncodedState, encodeState, type NamedArray } from "./state.ts";
export { train } from "./train.ts";
