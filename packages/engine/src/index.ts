export { type Capability, EMBEDDED_CAPABILITIES, ENGINE_VERSION } from "./capabilities.ts";
export { infer } from "./infer.ts";
export { decodeState, type EncodedState, encodeState, type NamedArray } from "./state.ts";
export { type EngineContext, type EngineResult, train } from "./train.ts";
