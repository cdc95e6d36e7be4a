import type { JobStatus } from "../types.ts";
import type { SacctRow, SlurmExit, SqueueRow } from "./parse.ts";

/** `<studyDir>/slurm/records/<index>/status.json`, written by the batch script (tmp + rename) at start and at the end. */
export interface CompletionRecord {
  readonly version: 1;
  /** `running` at start; `exited` when the commands ended; `interrupted` after SIGTERM. */
  readonly state: "running" | "exited" | "interrupted";
  /** The shell status of the last command run (128+N for a signal). */
  readonly exitCode: number | null;
  readonly signal: number | null;
  /** 0-based command that failed or was interrupted, null when all ran. */
  readonly step: number | null;
  readonly index: number;
  /** 1 for the first attempt: attempts before this submission + SLURM_RESTART_COUNT + 1. */
  readonly attempt: number;
  readonly restartCount: number;
  readonly jobId: string;
  readonly arrayJobId: string;
  readonly arrayTaskId: string;
  readonly host: string;
  readonly startedAt: string;
  readonly endedAt: string | null;
}

const RECORD_STATES = new Set(["running", "exited", "interrupted"]);

/** A completion record, or undefined for a torn, foreign or unreadable one. */
export function parseCompletionRecord(text: string): CompletionRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const r = value as Record<string, unknown>;
  const intOrNull = (v: unknown) => v === null || Number.isInteger(v);
  if (
    r.version !== 1 ||
    !RECORD_STATES.has(r.state as string) ||
    !intOrNull(r.exitCode) ||
    !intOrNull(r.signal) ||
    !intOrNull(r.step) ||
    !Number.isInteger(r.index) ||
    !Number.isInteger(r.attempt) ||
    !Number.isInteger(r.restartCount) ||
    typeof r.jobId !== "string" ||
    typeof r.arrayJobId !== "string" ||
    typeof r.arrayTaskId !== "string" ||
    typeof r.host !== "string" ||
    typeof r.startedAt !== "string" ||
    !(r.endedAt === null || typeof r.endedAt === "string")
  ) {
    return undefined;
  }
  return value as CompletionRecord;
}

/** Seconds a completion record may lag behind sacct's end of the job (slow shared file systems). */
export const RECORD_GRACE_SECONDS = 60;
/** Seconds after submission during which a job that no command knows about is "not yet", not "gone". */
export const LOST_AFTER_SECONDS = 300;

/** What the executor knows about one job (one array task) at one poll. */
export interface Observation {
  readonly sacct?: SacctRow | undefined;
  readonly squeue?: SqueueRow | undefined;
  /** The job's completion record, only when it was written by this submission (same array job and task). */
  readonly record?: CompletionRecord | undefined;
  /** False on a cluster without accounting (sacct says so): squeue and the record are all there is. */
  readonly accounting: boolean;
  /** Attempts before this submission (0 for the first). */
  readonly attemptBase: number;
  readonly secondsSinceSubmit: number;
  /** Seconds since sacct's End of the job, when it has one. */
  readonly secondsSinceEnd: number | null;
}

export interface Verdict {
  readonly status: JobStatus;
  readonly attempt: number;
  readonly exitCode: number | null;
  readonly message?: string;
}

const LIVE_RUNNING = new Set([
  "RUNNING",
  "CONFIGURING",
  "COMPLETING",
  "SUSPENDED",
  "STOPPED",
  "SIGNALING",
  "RESIZING",
  "STAGE_OUT",
]);
const LIVE_PENDING = new Set([
  "PENDING",
  "REQUEUED",
  "REQUEUE_HOLD",
  "REQUEUE_FED",
  "RESV_DEL_HOLD",
  "SPECIAL_EXIT",
]);

/** Final JobStatus values. */
export const FINAL_STATUSES: ReadonlySet<JobStatus> = new Set<JobStatus>([
  "succeeded",
  "failed",
  "timeout",
  "out_of_memory",
  "node_fail",
  "cancelled",
  "interrupted",
  "skipped",
  "suspect",
]);

function exitOf(exit: SlurmExit | null | undefined): number | null {
  if (!exit) return null;
  return exit.signal !== 0 ? 128 + exit.signal : exit.code;
}

function exitText(exit: SlurmExit | null | undefined): string {
  return exit ? `${exit.code}:${exit.signal}` : "?";
}

/**
 * Combines the three sources, most trusted first: the job's own completion record, sacct's job row
 * (State / ExitCode / DerivedExitCode) and squeue's live state. Returns null for "not known yet"
 * (empty answers right after submission, or a record that has not reached this file system yet).
 * Success needs all of them to agree; a disagreement is `suspect`, never `succeeded`.
 */
export function judgeJob(o: Observation): Verdict | null {
  const record = o.record;
  const attempt = record?.attempt ?? o.attemptBase + 1;
  const recordExit = record && record.state !== "running" ? record.exitCode : null;
  const verdict = (status: JobStatus, exitCode: number | null, message?: string): Verdict =>
    message === undefined ? { status, attempt, exitCode } : { status, attempt, exitCode, message };

  const live =
    o.squeue?.state ??
    (o.sacct && (LIVE_RUNNING.has(o.sacct.state) || LIVE_PENDING.has(o.sacct.state))
      ? o.sacct.state
      : undefined);
  const liveReason = o.squeue?.reason ?? o.sacct?.reason ?? "";
  if (live !== undefined && LIVE_RUNNING.has(live)) {
    // An `interrupted` record is the previous attempt's (a requeue's SIGTERM): this one has not
    // written its own yet. Except while COMPLETING: that is the record's own attempt ending. An
    // `exited` record is always its own attempt's: a program that ran to its end is not run again,
    // and a short attempt can start and end between the squeue read and the record read.
    const running = record?.state === "interrupted" && live !== "COMPLETING" ? record.attempt + 1 : attempt;
    const message = live === "RUNNING" ? undefined : live;
    return message === undefined
      ? { status: "running", attempt: running, exitCode: null }
      : { status: "running", attempt: running, exitCode: null, message };
  }
  if (live !== undefined && LIVE_PENDING.has(live)) {
    if (record) {
      const why = o.sacct && o.sacct.state !== "PENDING" ? o.sacct.state : "requeued";
      return verdict(
        "preempted",
        recordExit,
        `${why}: attempt ${record.attempt} ended on ${record.host}; Slurm requeued the job (${liveReason || "pending"})`,
      );
    }
    return verdict("pending", null, liveReason === "" || liveReason === "None" ? undefined : liveReason);
  }

  const row = o.sacct;
  if (!row) {
    if (o.accounting) {
      if (o.secondsSinceSubmit < LOST_AFTER_SECONDS) return null;
      if (record && record.state === "exited" && record.exitCode === 0) {
        return verdict("suspect", 0, "the job's record says success but sacct has no record of the job");
      }
      if (record && record.state !== "running")
        return verdict("failed", recordExit, "sacct has no record of the job");
      return verdict(
        "failed",
        null,
        `Slurm has no record of the job ${LOST_AFTER_SECONDS} s after submission`,
      );
    }
    // No accounting: the record is all there is once squeue has forgotten the job.
    if (record?.state === "exited") {
      return record.exitCode === 0
        ? verdict("succeeded", 0)
        : verdict("failed", record.exitCode, `exit code ${record.exitCode} (accounting is disabled)`);
    }
    if (record?.state === "interrupted") {
      return verdict(
        "interrupted",
        recordExit,
        "ended by SIGTERM; without accounting the cause (time limit, scancel, preemption) is unknown",
      );
    }
    if (o.secondsSinceSubmit < RECORD_GRACE_SECONDS) return null;
    return verdict(
      "failed",
      null,
      "the job left the queue without a completion record; without accounting the cause (SIGKILL, memory, time limit, node failure) is unknown",
    );
  }

  const said = `sacct: ${row.stateText} ${exitText(row.exit)}`;
  const recordSaysSuccess = record?.state === "exited" && record.exitCode === 0;
  const withRecordCheck = (status: JobStatus, message: string): Verdict =>
    recordSaysSuccess
      ? verdict("suspect", 0, `the job's record says success but ${said} (${message})`)
      : verdict(status, recordExit ?? exitOf(row.exit), message);

  switch (row.state) {
    case "COMPLETED": {
      const missing = !record || record.state === "running";
      if (missing) {
        if ((o.secondsSinceEnd ?? 0) < RECORD_GRACE_SECONDS) return null;
        return verdict("suspect", exitOf(row.exit), `${said} but the job wrote no completion record`);
      }
      if (!recordSaysSuccess) {
        return verdict(
          "suspect",
          recordExit,
          `${said} but the job's record says ${record.state} ${record.exitCode}`,
        );
      }
      const derived = row.derivedExit;
      if (derived && (derived.code !== 0 || derived.signal !== 0)) {
        return verdict("suspect", 0, `${said} but DerivedExitCode ${exitText(derived)}: a job step failed`);
      }
      if (row.exit && (row.exit.code !== 0 || row.exit.signal !== 0)) {
        return verdict("suspect", 0, `the job's record says success but ${said}`);
      }
      return verdict("succeeded", 0);
    }
    case "FAILED":
      if (recordSaysSuccess) return verdict("suspect", 0, `the job's record says success but ${said}`);
      if (record?.state === "interrupted") {
        return verdict("interrupted", recordExit, `ended by signal ${record.signal} (${said})`);
      }
      if (!record || record.state === "running") {
        return verdict("failed", exitOf(row.exit), `${said}; the job wrote no final record (killed?)`);
      }
      return verdict(
        "failed",
        record.exitCode,
        `exit code ${record.exitCode}${record.step === null ? "" : ` in command ${record.step}`}`,
      );
    case "TIMEOUT":
      return withRecordCheck("timeout", "time limit reached");
    case "DEADLINE":
      return withRecordCheck("timeout", "deadline reached");
    case "OUT_OF_MEMORY":
      return withRecordCheck("out_of_memory", "memory limit (--mem) exceeded");
    case "NODE_FAIL":
    case "BOOT_FAIL":
      return withRecordCheck("node_fail", `${row.state} on ${row.nodeList || "its node"}`);
    case "PREEMPTED":
      return withRecordCheck(
        "interrupted",
        "preempted and not requeued (PreemptMode=CANCEL or --no-requeue)",
      );
    case "CANCELLED":
    case "REVOKED":
      return withRecordCheck("cancelled", row.stateText);
    default:
      return verdict("pending", null, `unknown Slurm state ${row.stateText}`);
  }
}
