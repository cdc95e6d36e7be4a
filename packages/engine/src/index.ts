export { type Capability, EMBEDDED_CAPABILITIES, ENGINE_VERSION } from "./capabilities.ts";
export { infer, train } from "./run.ts";
