export { infer } from "./infer.ts";
export { type EngineContext, type EngineResult, train } from "./train.ts";
