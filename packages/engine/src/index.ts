export { type Capability, EMBEDDED_CAPABILITIES, ENGINE_VERSION } from "./capabilities.ts";
export { infer, train } from "./run.ts";
export { decodeState, type EncodedState, encodeState, type NamedArray } from "./state.ts";
export type { EngineContext, EngineResult } from "./train.ts";
