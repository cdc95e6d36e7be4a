export { isStudyError, StudyError, type StudyErrorCode } from "./errors.ts";
export { EXECUTOR_KINDS, EXECUTORS, type ExecutorSettings } from "./executors.ts";
export {
  foldJournal,
  JOURNAL_FORMAT,
  type JournalEvent,
  type JournalJobState,
  journalPath,
  readJournal,
} from "./journal.ts";
export { createLocalExecutor, type LocalExecutorOptions, TEMPFAIL } from "./local-executor.ts";
export { type WrittenOutputs, writeStudyOutputs } from "./outputs.ts";
export {
  type GlobalLauncherFlags,
  type JobLauncher,
  type PlanOptions,
  payloadSha256,
  planStudy,
  type StudyJob,
  type StudyPlan,
} from "./plan.ts";
export { createLiveProgress, createPlainProgress, type ProgressJob, type ProgressView } from "./progress.ts";
export { type RenderedReport, type ReportFigure, renderReport, resultsCsv } from "./report.ts";
export {
  collectResults,
  finalStatus,
  readJobOutcome,
  readStudyManifest,
  type StudyManifest,
  type StudyManifestJob,
} from "./results.ts";
export {
  checkStudyDirectory,
  type RerunSelection,
  type RunStudyOptions,
  runStudy,
  type StudyOutcome,
} from "./run.ts";
export {
  createSlurmExecutor,
  isSlurmError,
  parseSlurmSettings,
  SlurmError,
  type SlurmErrorCode,
  type SlurmExecutor,
  type SlurmExecutorOptions,
  type SlurmSettings,
  type SlurmSettingsInput,
  SlurmSettingsSchema,
} from "./slurm/index.ts";
export {
  canonicalJson,
  defineStudy,
  type LoadedSpec,
  loadStudySpec,
  parseStudySpec,
  type StudySpec,
  type StudySpecInput,
  StudySpecSchema,
  specFromObject,
  studySpecJsonSchema,
} from "./spec.ts";
export {
  computeStatistics,
  METRIC_NAMES,
  type ReportOptions,
  type StudyStatistics,
  studentTQuantile,
  summarize,
} from "./statistics.ts";
export { studyStatus } from "./status.ts";
export {
  type AxisValue,
  type Executor,
  type ExecutorContext,
  type ExecutorKind,
  JOB_STATUSES,
  type JobCommand,
  type JobEvent,
  type JobMetrics,
  type JobStatus,
  type MetricName,
  type PlannedJob,
  type ResultRow,
  STEPS,
  type Step,
} from "./types.ts";
export { type WatchOptions, type WatchOutcome, watchStudy } from "./watch.ts";
