import type { Backend, RunContext, RunResult } from "./backend.ts";
import { processBackend } from "./process-backend.ts";

/**
 * The embedded engine (TensorFlow.js in this process). Its capabilities come from a light module;
 * the engine itself is imported only when a run starts, so --help, --dry-run, --print-config and
 * --explain never load TensorFlow.js.
 */
export const embeddedBackend: Backend = {
  name: "embedded",
  description: "train and run the built-in PtychoPINN-style network in this process (CPU, WebAssembly)",
  async capabilities() {
    const { EMBEDDED_CAPABILITIES } = await import("@trainkit/engine/capabilities");
    return EMBEDDED_CAPABILITIES;
  },
  async preflight(payload) {
    const { preflightEmbedded } = await import("@trainkit/engine/preflight");
    await preflightEmbedded(payload);
  },
  async run(context: RunContext): Promise<RunResult> {
    const engine = await import("@trainkit/engine");
    const { payload } = context;
    return payload.kind === "training"
      ? engine.train({ ...context, payload })
      : engine.infer({ ...context, payload });
  },
};

export type BackendName = "embedded" | "process";

/** Every backend `--backend` can name. */
export const BACKENDS: Readonly<Record<BackendName, Backend>> = {
  embedded: embeddedBackend,
  process: processBackend,
} satisfies Record<BackendName, Backend>;

export const BACKEND_NAMES = Object.keys(BACKENDS) as BackendName[];
