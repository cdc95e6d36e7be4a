import { readFileSync } from "node:fs";
import { join } from "node:path";
import { StudyError } from "./errors.ts";
import { EXECUTORS } from "./executors.ts";
import { countStatuses, sleep } from "./internal/util.ts";
import { foldJournal, Journal, journalPath, readJournal } from "./journal.ts";
import { acquireLock } from "./lock.ts";
import { createPlainProgress, type ProgressJob, type ProgressView } from "./progress.ts";
import { readJobOutcome, readStudyManifest, type StudyManifest, writeStudyManifest } from "./results.ts";
import type { Executor, ExecutorContext, JobEvent, JobStatus } from "./types.ts";

/** States a job does not leave by itself. */
const ENDED: ReadonlySet<JobStatus> = new Set([
  "succeeded",
  "failed",
  "timeout",
  "out_of_memory",
  "node_fail",
  "cancelled",
  "skipped",
  "suspect",
  "interrupted",
]);

export interface WatchOptions {
  readonly io: { readonly stdout: (text: string) => void; readonly stderr: (text: string) => void };
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
  /** One poll, then return (`status`, `collect`). Default: until every job has ended (`watch`). */
  readonly once?: boolean;
  readonly progress?: ProgressView;
  /** Cancel every job that has not ended (`cancel`). */
  readonly cancel?: boolean;
  /** Polls no faster than this (milliseconds); default: the executor's backoff. */
  readonly pollDelayMs?: number;
}

export interface WatchOutcome {
  readonly counts: Readonly<Partial<Record<JobStatus, number>>>;
  /** Whether every job has ended. */
  readonly ended: boolean;
  readonly manifest: StudyManifest;
}

/**
 * Reattaches to a study whose jobs a cluster runs (from any shell, also after the orchestrator was
 * killed): rebuilds the executor from the study directory, polls it, journals every change (the
 * job's own record is checked against its run directory: a success the run directory does not show
 * is `suspect`), and updates the study manifest. With `cancel`, cancels every job that has not ended.
 */
export async function watchStudy(studyDir: string, options: WatchOptions): Promise<WatchOutcome> {
  const manifest = await readStudyManifest(studyDir);
  if (!manifest)
    throw new StudyError(
      "NOT_A_STUDY",
      `${studyDir} holds no study-manifest.json; is it a study's output directory?`,
    );
  if (manifest.executor === "local") {
    throw new StudyError(
      "NOT_A_STUDY",
      `${studyDir} is a study of the local executor: its jobs run under their orchestrator (trainkit-study status ${studyDir} shows them; trainkit-study run SPEC --resume continues it).`,
    );
  }
  const kind = manifest.executor as keyof typeof EXECUTORS;
  const executor: Executor = EXECUTORS[kind]({ slurm: manifest.executorSettings ?? readSpecSlurm(studyDir) });
  const lock = acquireLock(studyDir);
  if (lock.warning) options.io.stderr(`trainkit-study: warning: ${lock.warning}\n`);
  const journal = new Journal(journalPath(studyDir));
  try {
    const state = foldJournal(readJournal(journalPath(studyDir)) ?? []);
    const status = new Map<number, JobStatus>(
      manifest.jobs.map((j) => [j.index, state.get(j.index)?.status ?? j.status]),
    );
    const attempts = new Map<number, number>(
      manifest.jobs.map((j) => [j.index, state.get(j.index)?.attempts ?? j.attempts]),
    );
    const jobs = new Map(manifest.jobs.map((j) => [j.index, j]));
    const progress = options.progress ?? createPlainProgress(options.io.stdout);
    const counts = () => countStatuses(status.values());
    const ctx: ExecutorContext = {
      studyDir,
      maxWorkers: 1,
      jobTimeout: null,
      env: options.env ?? process.env,
      io: options.io,
      ...(options.signal ? { signal: options.signal } : {}),
    };
    await executor.reattach?.(ctx);
    const open = () => [...status].filter(([, s]) => !ENDED.has(s)).map(([i]) => i);
    if (options.cancel) await executor.cancel(open(), ctx);
    progress.start(manifest.jobs.length, counts());
    const info = (index: number): ProgressJob => {
      const job = jobs.get(index);
      const nepochs = job ? epochsOf(job.dir) : 1;
      return { index, label: job?.label ?? String(index), dir: job?.dir ?? "", nepochs };
    };
    for (;;) {
      const events: readonly JobEvent[] = await executor.poll(ctx);
      for (const event of events) {
        const job = jobs.get(event.index);
        if (!job) continue;
        let e = event;
        if (e.status === "succeeded") {
          const outcome = await readJobOutcome(job.dir, job.steps);
          if (outcome.train?.status !== "succeeded" || outcome.train.payloadSha256 !== job.payloadSha256)
            e = {
              ...e,
              status: "suspect",
              message:
                "the cluster says the job ended well, but its run directory does not record this payload as succeeded",
            };
        }
        if (status.get(e.index) === e.status && attempts.get(e.index) === e.attempt) continue;
        status.set(e.index, e.status);
        attempts.set(e.index, e.attempt);
        journal.append({ type: "job", ...e });
        progress.event(e, info(e.index), counts());
      }
      const ended = open().length === 0;
      if (ended || options.once || options.signal?.aborted) break;
      await sleep(options.pollDelayMs ?? executor.nextPollDelayMs?.() ?? 2000, options.signal);
    }
    const ended = open().length === 0;
    if (ended && !(readJournal(journalPath(studyDir)) ?? []).some((e) => e.type === "finished"))
      journal.append({ type: "finished", time: new Date().toISOString(), counts: counts() });
    const updated: StudyManifest = {
      ...manifest,
      endedAt: ended ? (manifest.endedAt ?? new Date().toISOString()) : null,
      jobs: manifest.jobs.map((j) => ({
        ...j,
        status: status.get(j.index) ?? j.status,
        attempts: attempts.get(j.index) ?? j.attempts,
      })),
    };
    await writeStudyManifest(studyDir, updated);
    if (!options.once) progress.stop(counts());
    return { counts: counts(), ended, manifest: updated };
  } finally {
    journal.close();
    lock.release();
  }
}

function readSpecSlurm(studyDir: string): Readonly<Record<string, unknown>> {
  try {
    const spec = JSON.parse(readFileSync(join(studyDir, "spec.json"), "utf8")) as {
      raw?: { slurm?: Record<string, unknown> };
    };
    return spec.raw?.slurm ?? {};
  } catch {
    return {};
  }
}

function epochsOf(dir: string): number {
  try {
    const doc = JSON.parse(readFileSync(join(dir, "payload.json"), "utf8")) as {
      config?: { training?: { nepochs?: number } };
    };
    return doc.config?.training?.nepochs ?? 1;
  } catch {
    return 1;
  }
}
