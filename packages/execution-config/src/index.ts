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
  EXECUTION_CATEGORIES,
  EXECUTION_DEFAULTS,
  type ExecutionCategory,
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
  executionSection,
  parseExecutionConfig,
  safeParseExecutionConfig,
} from "./parse.ts";
export { EXECUTION_RULES } from "./rules.ts";
export { type ComputeThreads, resolveComputeThreads, THREAD_BUDGET_ENV } from "./threads.ts";
