export { type Capability, EMBEDDED_CAPABILITIES, ENGINE_VERSION } from "./capabilities.ts";
export { infer } from "./infer.ts";
export { type Checkpoint, readCheckpoint, type TrainingState } from "./loop/checkpoint-file.ts";
export { isLoopError, LoopError, type LoopErrorCode } from "./loop/errors.ts";
export type {
  EngineContext,
  EngineIO,
  EngineResult,
  InferenceContext,
  InferenceSections,
  TrainingContext,
  TrainingSections,
} from "./run-context.ts";
export { decodeWeights, type EncodedState, encodeWeights, type NamedArray } from "./state.ts";
export { train } from "./train.ts";
