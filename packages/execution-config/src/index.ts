// Everything exported here is the public API (the README documents it) except what is marked
// `@internal`: shared with the other trainkit packages only, not part of the public API, free to
// change without a changeset (docs/decisions.md, "Public and internal exports").
export {
  type ConfigError,
  type ConfigIssue,
  type ConfigIssueCode,
  type ConfigWarning,
  isConfigError,
} from "@trainkit/config-meta";
export {
  ACCELERATORS,
  type Accelerator,
  CHECKPOINT_MODES,
  /** @internal */ EXECUTION_CATEGORIES,
  EXECUTION_DEFAULTS,
  /** @internal */ type ExecutionCategory,
  type ExecutionConfig,
  type ExecutionConfigInput,
  ExecutionConfigSchema,
  GRADIENT_CLIP_ALGORITHMS,
  LOGGERS,
  type Logger,
  OPTIMIZERS,
  PATCH_WEIGHTINGS,
  PRECISIONS,
  SCHEDULERS,
  type Scheduler,
} from "./execution-config.ts";
export {
  defineExecutionConfig,
  /** @internal */ executionSection,
  parseExecutionConfig,
  safeParseExecutionConfig,
} from "./parse.ts";
export { EXECUTION_RULES } from "./rules.ts";
export {
  type ComputeThreads,
  resolveComputeThreads,
  THREAD_BUDGET_ENV,
} from "./threads.ts";
