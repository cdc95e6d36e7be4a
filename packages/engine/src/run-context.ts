// What a run of the engine gets and gives back: the payload (typed by the schema packages), the run
// directory, the signal, and the run's IO, through which every line for the user goes.
import type { ExecutionConfig } from "@trainkit/execution-config";
import type { InferenceConfig, ModelConfig, TrainingConfig } from "@trainkit/training-config";

/** The sections of a training payload, as resolved (the factory's `TrainingPayloadConfig`). */
export interface TrainingSections {
  readonly model: ModelConfig;
  readonly training: TrainingConfig;
  readonly execution: ExecutionConfig;
}

/** The sections of an inference payload, as resolved (the factory's `InferencePayloadConfig`). */
export interface InferenceSections {
  readonly model: ModelConfig;
  readonly inference: InferenceConfig;
  readonly execution: ExecutionConfig;
}

/** Where the engine writes what the user should see (structurally the launcher's `RunIO`). */
export interface EngineIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /**
   * Shows a warning: one line, without the program's name or a newline (the program that runs the
   * engine prefixes it). Absent: written to `stderr` as `warning: <message>`.
   */
  readonly warn?: (message: string) => void;
}

/** What the launcher hands the engine (structurally the launcher's `RunContext`). */
export interface EngineContext {
  readonly payload:
    | {
        readonly kind: "training";
        readonly config: TrainingSections;
        readonly legacy: Readonly<Record<string, unknown>>;
      }
    | {
        readonly kind: "inference";
        readonly config: InferenceSections;
        readonly legacy: Readonly<Record<string, unknown>>;
      };
  readonly runDir: string;
  readonly resume: boolean;
  readonly signal: AbortSignal;
  readonly io: EngineIO;
  /** The job's environment (TRAINKIT_THREAD_BUDGET for `computeThreads: auto`); `process.env` when absent. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** A run's context narrowed to one payload kind. */
export type ContextOf<K extends EngineContext["payload"]["kind"]> = Omit<EngineContext, "payload"> & {
  readonly payload: Extract<EngineContext["payload"], { readonly kind: K }>;
};

/** What `train` takes: a context with a training payload. */
export type TrainingContext = ContextOf<"training">;

/** What `infer` takes: a context with an inference payload. */
export type InferenceContext = ContextOf<"inference">;

export interface EngineResult {
  readonly status: "succeeded" | "failed" | "interrupted";
  readonly message?: string;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly outputs?: Readonly<Record<string, string>>;
  readonly resolved?: readonly { readonly path: string; readonly value: unknown; readonly reason: string }[];
}

/** The run's warning channel: `io.warn`, or `warning: <message>` on `io.stderr`. */
export function warningsOf(io: EngineIO): (message: string) => void {
  return io.warn ?? ((message) => io.stderr(`warning: ${message}\n`));
}
