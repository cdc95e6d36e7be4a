export { type Backoff, type BackoffOptions, createBackoff } from "./backoff.ts";
export { SLURM_COMMANDS, type SlurmCommandName } from "./commands.ts";
export { isSlurmError, SlurmError, type SlurmErrorCode } from "./errors.ts";
export {
  createSlurmExecutor,
  parseSlurmSettings,
  type SlurmChunk,
  type SlurmExecutor,
  type SlurmExecutorOptions,
  slurmJobName,
} from "./executor.ts";
export {
  expandArrayRange,
  isTransientSlurmError,
  parseJobId,
  parseMaxArraySize,
  parseSacct,
  parseSbatchOutput,
  parseSqueue,
  type SacctRow,
  type SlurmJobId,
  type SqueueRow,
} from "./parse.ts";
export {
  type ChunkPlan,
  renderArgvFile,
  renderBatchScript,
  sbatchOptions,
  shellQuote,
  slurmMinutes,
} from "./script.ts";
export {
  MANAGED_SBATCH_OPTIONS,
  type SlurmSettings,
  type SlurmSettingsInput,
  SlurmSettingsSchema,
} from "./settings.ts";
export {
  type CompletionRecord,
  FINAL_STATUSES,
  judgeJob,
  LOST_AFTER_SECONDS,
  type Observation,
  parseCompletionRecord,
  RECORD_GRACE_SECONDS,
  type Verdict,
} from "./status.ts";
