import type { TrainingPayload } from "@trainkit/factory";

/**
 * Every state a job of a study can be in. `pending` and `running` are not final; `preempted` means
 * the cluster requeued it (not final either). `suspect` is final: the job's own completion record and
 * the executor disagree, so the result is not trusted.
 */
export const JOB_STATUSES = [
  "pending",
  "running",
  "succeeded",
  "failed",
  "timeout",
  "out_of_memory",
  "node_fail",
  "preempted",
  "cancelled",
  "interrupted",
  "skipped",
  "suspect",
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** The steps a job may run, in order. */
export const STEPS = ["train", "infer"] as const;
export type Step = (typeof STEPS)[number];

/** A value a job takes on one axis, as shown in labels, tables and plots. */
export type AxisValue = string | number | boolean | null;

/** One program run of a job: `argv[0]` is the program (no shell is ever involved). */
export interface JobCommand {
  readonly step: Step;
  readonly argv: readonly string[];
}

/** A job of a study, fully resolved before anything runs. */
export interface PlannedJob {
  /** 0-based, in matrix order (last axis fastest), stable when a value is appended to an axis. */
  readonly index: number;
  /** The varying values, short and filename-safe: `nphotons=1e4,loss=mae,rep=1`. */
  readonly label: string;
  /** The job's run directory: `<outputDir>/jobs/<index>-<label>`. */
  readonly dir: string;
  /** Axis name -> the value this job takes (a named value's name for named values). */
  readonly axes: Readonly<Record<string, AxisValue>>;
  /** The label without repeat and fold: jobs with the same variation are replicates. */
  readonly variation: string;
  readonly repeat: number | null;
  readonly fold: number | null;
  /** The named job (spec `jobs:`) this one comes from, if any. */
  readonly name: string | null;
  /** The resolved, audited training payload. */
  readonly payload: TrainingPayload;
  /** SHA-256 of the payload document (the hash the run manifest records). */
  readonly sha256: string;
  /** What to run, in order. */
  readonly commands: readonly JobCommand[];
}

/** A state change of one job, as an executor saw it. */
export interface JobEvent {
  readonly index: number;
  readonly status: JobStatus;
  /** 1 for the first attempt. */
  readonly attempt: number;
  readonly exitCode?: number | null;
  /** The executor's id of the job: a pid, or `<jobid>_<taskid>` on Slurm. */
  readonly executorId?: string;
  /** ISO time of the change. */
  readonly time: string;
  readonly message?: string;
  /** A failure worth retrying: exit code 75, a signal the user did not send, out of memory. */
  readonly transient?: boolean;
}

/** What an executor gets from the study runner. */
export interface ExecutorContext {
  /** The study's output directory. */
  readonly studyDir: string;
  readonly maxWorkers: number;
  /** Seconds per job (`budget.jobTimeout`), or null for none. */
  readonly jobTimeout: number | null;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly io: { readonly stdout: (text: string) => void; readonly stderr: (text: string) => void };
  readonly signal?: AbortSignal;
}

export type ExecutorKind = "local" | "slurm";

/** One way to run jobs. The scheduler knows nothing of processes or clusters. */
export interface Executor {
  readonly kind: ExecutorKind;
  /** Starts (or queues) the jobs; may return before they finish. */
  submit(jobs: readonly PlannedJob[], ctx: ExecutorContext): Promise<void>;
  /** State changes since the last poll. */
  poll(ctx: ExecutorContext): Promise<readonly JobEvent[]>;
  cancel(indices: readonly number[], ctx: ExecutorContext): Promise<void>;
  /** Rebuilds what it submitted from the study directory (after the orchestrator restarts). */
  reattach?(ctx: ExecutorContext): Promise<void>;
  /** Milliseconds to wait before the next poll (executors whose poll returns at once). */
  nextPollDelayMs?(): number;
  /** Whether it queues every job itself (throttled at `maxWorkers`) instead of the runner starting them. */
  readonly queues?: boolean;
}

/** Final metrics of a job, read from its run directory. */
export interface JobMetrics {
  readonly trainLoss: number | null;
  readonly valLoss: number | null;
  readonly amplitudePsnr: number | null;
  readonly amplitudeSsim: number | null;
  readonly phasePsnr: number | null;
  readonly phaseSsim: number | null;
}
export type MetricName = keyof JobMetrics;

/** One row of results.csv / results.json. */
export interface ResultRow {
  readonly index: number;
  readonly label: string;
  readonly variation: string;
  readonly name: string | null;
  readonly axes: Readonly<Record<string, AxisValue>>;
  readonly repeat: number | null;
  readonly fold: number | null;
  readonly status: JobStatus;
  readonly attempts: number;
  readonly exitCode: number | null;
  readonly durationSeconds: number | null;
  readonly metrics: JobMetrics;
  readonly runDir: string;
  readonly payloadSha256: string;
}
