export { type EngineContext, type EngineResult, train } from "./train.ts";

import type { EngineContext, EngineResult } from "./train.ts";

/** Inference on the embedded engine (reconstructions land with the inference work). */
export async function infer(_context: EngineContext): Promise<EngineResult> {
  return {
    status: "failed",
    message: "embedded inference is not implemented yet (see the engine's capabilities)",
  };
}
