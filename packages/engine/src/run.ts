// Temporary: the engine's train/infer land with the engine work (issue 5).
export interface EngineContext {
  readonly payload: unknown;
  readonly runDir: string;
  readonly resume: boolean;
  readonly signal: AbortSignal;
}
export interface EngineResult {
  readonly status: "succeeded" | "failed" | "interrupted";
  readonly message?: string;
}
export async function train(_context: EngineContext): Promise<EngineResult> {
  return { status: "failed", message: "the embedded engine is not available in this build yet" };
}
export async function infer(_context: EngineContext): Promise<EngineResult> {
  return { status: "failed", message: "the embedded engine is not available in this build yet" };
}
