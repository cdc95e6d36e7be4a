import { existsSync } from "node:fs";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { renderPayloadDocument } from "@trainkit/factory";
import { readManifest, writeJsonAtomic } from "@trainkit/launcher";
import { StudyError } from "./errors.ts";
import { countStatuses, pidAlive, sleep } from "./internal/util.ts";
import {
  foldJournal,
  JOURNAL_FORMAT,
  Journal,
  type JournalJobState,
  journalPath,
  readJournal,
} from "./journal.ts";
import { createLocalExecutor } from "./local-executor.ts";
import { acquireLock } from "./lock.ts";
import { planFileOf, type StudyJob, type StudyPlan } from "./plan.ts";
import { createPlainProgress, type ProgressView } from "./progress.ts";
import {
  readJobOutcome,
  readStudyManifest,
  type StudyManifest,
  type StudyManifestJob,
  writeStudyManifest,
} from "./results.ts";
import { canonicalJson, specDifferences } from "./spec.ts";
import type { Executor, ExecutorContext, JobEvent, JobStatus } from "./types.ts";

/** Which finished jobs `--rerun` runs again. */
export type RerunSelection = "failed" | "all";

export interface RunStudyOptions {
  readonly executor?: Executor;
  /** Default: the number of cores. */
  readonly maxWorkers?: number;
  /** Continue the study in `outputDir`: finished jobs are skipped, interrupted ones continue. */
  readonly resume?: boolean;
  /** Run finished jobs again: the failed ones (every state but succeeded) or all. */
  readonly rerun?: RerunSelection;
  /** Accept a spec that changed since the study started. */
  readonly replan?: boolean;
  /** Stop the study at the first failure. */
  readonly failFast?: boolean;
  readonly io: { readonly stdout: (text: string) => void; readonly stderr: (text: string) => void };
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
  /** The study command line (recorded in the manifest). */
  readonly argv?: readonly string[];
  readonly where?: readonly string[];
  readonly only?: readonly string[];
  readonly progress?: ProgressView;
  /** Seconds of the first retry's backoff (doubling, with jitter). Default 2. */
  readonly retryBaseSeconds?: number;
  /** Working directory of the jobs. */
  readonly cwd?: string;
  /**
   * For executors that queue jobs (Slurm): stay until every job has ended (`run --wait`). Default:
   * return once everything is queued; `watch`/`collect` reattach later.
   */
  readonly wait?: boolean;
  /** Settings of the executor beyond the spec (Slurm flags), recorded for reattaching. */
  readonly executorSettings?: Readonly<Record<string, unknown>>;
  /** Ctrl-C while queued jobs run: whether to cancel them (asked on a terminal). Default: leave them. */
  readonly cancelQueuedOnInterrupt?: () => Promise<boolean>;
}

export interface StudyOutcome {
  readonly dir: string;
  readonly counts: Readonly<Record<JobStatus, number>>;
  /** 0 every job succeeded (or was queued), 1 some did not, 130 interrupted. */
  readonly exitCode: 0 | 1 | 130;
  /** The jobs were queued and the runner returned without waiting for them. */
  readonly queuedOnly?: boolean;
}

/** Ends that `--resume` keeps (`--rerun failed` runs them again); every other state is resumed. */
const FAILED: ReadonlySet<JobStatus> = new Set([
  "failed",
  "timeout",
  "out_of_memory",
  "node_fail",
  "suspect",
]);

async function isEmptyDir(dir: string): Promise<boolean | undefined> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * Checks the output directory for a new study, a resume or a rerun, before anything is written:
 * another study's directory, a changed spec (unless `replan`) and jobs whose payload changed under
 * a finished run are refused. Returns the earlier manifest and journal state, if any.
 */
export async function checkStudyDirectory(
  plan: StudyPlan,
  options: Pick<RunStudyOptions, "resume" | "rerun" | "replan">,
): Promise<{ previous?: StudyManifest; state: Map<number, JournalJobState> }> {
  const dir = plan.spec.spec.outputDir;
  const empty = await isEmptyDir(dir);
  const previous = empty === false ? await readStudyManifest(dir).catch(() => undefined) : undefined;
  const events = empty === false ? readJournal(journalPath(dir)) : undefined;
  const continuing = options.resume === true || options.rerun !== undefined;
  if (empty === false && (!previous || !events)) {
    throw new StudyError(
      "OUTPUT_DIR_TAKEN",
      `The output directory ${dir} is not empty and holds no trainkit study${previous ? " journal" : ""}: choose another outputDir.`,
    );
  }
  if (previous && previous.study !== plan.spec.spec.name) {
    throw new StudyError(
      "OUTPUT_DIR_TAKEN",
      `The output directory ${dir} belongs to the study "${previous.study}", not "${plan.spec.spec.name}": choose another outputDir.`,
    );
  }
  if (!continuing && previous) {
    throw new StudyError(
      "OUTPUT_DIR_TAKEN",
      `${dir} already holds a run of the study "${previous.study}": continue it with --resume, run failed jobs again with --rerun failed, or choose another outputDir.`,
    );
  }
  if (continuing && !previous) {
    throw new StudyError(
      "NOTHING_TO_RESUME",
      `${options.resume ? "--resume" : "--rerun"}: ${dir} holds no study to continue.`,
    );
  }
  const state = foldJournal(events ?? []);
  // Nothing runs twice at once: a job the previous orchestrator started may outlive it.
  const alive = [...state].filter(
    ([, s]) => s.status === "running" && s.executorId && pidAlive(Number(s.executorId)),
  );
  if (alive.length > 0) {
    throw new StudyError(
      "STUDY_LOCKED",
      `${alive.length} job(s) that an earlier orchestrator started in ${dir} are still running (${alive
        .map(([i, s]) => `job ${i}: pid ${s.executorId}`)
        .join(
          ", ",
        )}): wait for them to end, or stop them (kill -INT <pid> keeps their checkpoint), then resume.`,
    );
  }
  if (previous && !options.replan) {
    const stored = await import("node:fs/promises")
      .then((fs) => fs.readFile(join(dir, "spec.json"), "utf8"))
      .catch(() => "null");
    const before = (JSON.parse(stored) as { raw?: unknown } | null)?.raw;
    const changed = specDifferences(before, JSON.parse(canonicalJson(plan.spec.raw)));
    if (changed.length > 0) {
      throw new StudyError(
        "SPEC_CHANGED",
        `The spec of ${dir} changed since the study started (${changed.join(", ")}). Use --replan to plan again (jobs keep their indices; jobs whose payload changed start over).`,
      );
    }
    const moved = plan.jobs.filter((j) => {
      const p = previous.jobs.find((x) => x.index === j.index);
      return p !== undefined && p.payloadSha256 !== j.sha256;
    });
    if (moved.length > 0) {
      throw new StudyError(
        "SPEC_CHANGED",
        `${moved.length} job(s) of ${dir} would run a different payload than before (${moved
          .slice(0, 5)
          .map((j) => `${j.index} ${j.label}`)
          .join(
            "; ",
          )}${moved.length > 5 ? "; ..." : ""}): the global options or a config file changed. Use --replan to start those jobs over.`,
      );
    }
  }
  return { ...(previous ? { previous } : {}), state };
}

/** Writes what a job's run reads: payload.json and audit.json in its directory, its infer config. */
async function writeJobFiles(job: StudyJob, outputDir: string, fresh: boolean): Promise<void> {
  if (fresh) await rm(job.dir, { recursive: true, force: true });
  await mkdir(job.dir, { recursive: true });
  if (!(await readManifest(job.dir))) {
    await writeFile(join(job.dir, "payload.json"), renderPayloadDocument(job.payload));
    await writeJsonAtomic(join(job.dir, "audit.json"), {
      audit: job.payload.audit,
      warnings: job.payload.warnings,
      overridesApplied: job.payload.overridesApplied,
      ...(job.dropped.length > 0 ? { dropped: job.dropped } : {}),
    });
  }
  if (job.inferConfig)
    await writeJsonAtomic(planFileOf(outputDir, job.index, "infer.json"), { inference: job.inferConfig });
}

function manifestJob(
  job: StudyJob,
  status: JobStatus,
  state: JournalJobState | undefined,
  duration: number | null,
): StudyManifestJob {
  return {
    index: job.index,
    key: job.key,
    label: job.label,
    dir: job.dir,
    variation: job.variation,
    name: job.name,
    axes: job.axes,
    repeat: job.repeat,
    fold: job.fold,
    payloadSha256: job.sha256,
    steps: job.commands.map((c) => c.step),
    status,
    exitCode: state?.exitCode ?? null,
    attempts: state?.attempts ?? 0,
    durationSeconds: duration,
    ...(job.dropped.length > 0 ? { dropped: job.dropped } : {}),
  };
}

/**
 * Runs a planned study: writes each job's payload, journals every state change (fsynced), runs the
 * jobs through the executor with retries, budgets and fail-fast, and records the study manifest.
 * Safe to stop at any moment: `resume` continues where the journal and the run directories say.
 */
export async function runStudy(plan: StudyPlan, options: RunStudyOptions): Promise<StudyOutcome> {
  const { spec } = plan.spec;
  const dir = spec.outputDir;
  const { previous, state } = await checkStudyDirectory(plan, options);
  await mkdir(dir, { recursive: true });
  const lock = acquireLock(dir);
  if (lock.warning) options.io.stderr(`trainkit-study: warning: ${lock.warning}\n`);
  const journal = new Journal(journalPath(dir));
  const executor = options.executor ?? createLocalExecutor(options.cwd ? { cwd: options.cwd } : {});
  const maxWorkers = Math.max(1, options.maxWorkers ?? (await import("node:os")).availableParallelism());
  const progress = options.progress ?? createPlainProgress(options.io.stdout);
  const startedAt = previous?.startedAt ?? new Date().toISOString();
  const status = new Map<number, JobStatus>();
  const attempts = new Map<number, number>();
  const durations = new Map<number, number>();
  const writeManifest = (endedAt: string | null, journalState: ReadonlyMap<number, JournalJobState>) =>
    writeStudyManifest(dir, {
      format: "trainkit-study-manifest/1",
      study: spec.name,
      specFile: plan.spec.file,
      specSha256: plan.spec.sha256,
      executor: executor.kind,
      argv: [...(options.argv ?? [])],
      where: [...(options.where ?? [])],
      only: [...(options.only ?? [])],
      globalOptions: plan.globalPaths,
      cwd: options.cwd ?? process.cwd(),
      report: spec.report,
      axes: plan.axes,
      ...(options.executorSettings ? { executorSettings: options.executorSettings } : {}),
      startedAt,
      endedAt,
      jobs: mergeJobs(
        previous,
        plan.jobs.map((j) =>
          manifestJob(
            j,
            status.get(j.index) ?? "pending",
            journalState.get(j.index),
            durations.get(j.index) ?? null,
          ),
        ),
      ),
    });
  try {
    if (!previous || options.replan) {
      journal.append({
        type: "planned",
        format: JOURNAL_FORMAT,
        study: spec.name,
        specSha256: plan.spec.sha256,
        jobs: plan.total,
        executor: executor.kind,
        time: new Date().toISOString(),
      });
      await writeJsonAtomic(join(dir, "spec.json"), {
        file: plan.spec.file,
        sha256: plan.spec.sha256,
        raw: JSON.parse(canonicalJson(plan.spec.raw)),
      });
    }
    // What each job needs now.
    const toRun: StudyJob[] = [];
    const fresh = new Set<number>();
    for (const job of plan.jobs) {
      const before = state.get(job.index);
      attempts.set(job.index, before?.attempts ?? 0);
      const outcome = await readJobOutcome(
        job.dir,
        job.commands.map((c) => c.step),
      );
      const done =
        outcome.train?.status === "succeeded" &&
        outcome.train.payloadSha256 === job.sha256 &&
        (!job.commands.some((c) => c.step === "infer") || outcome.infer?.status === "succeeded");
      const prior = previous?.jobs.find((p) => p.index === job.index);
      const changed = prior !== undefined && prior.payloadSha256 !== job.sha256;
      if (done && options.rerun !== "all" && !changed) {
        status.set(job.index, "succeeded");
        if (outcome.durationSeconds !== null) durations.set(job.index, outcome.durationSeconds);
        continue;
      }
      const finishedBadly = before !== undefined && FAILED.has(before.status);
      if (previous && !options.rerun && finishedBadly && !options.replan) {
        // --resume keeps final failures as they are; --rerun failed runs them again.
        status.set(job.index, before.status);
        continue;
      }
      if (options.rerun !== undefined || changed || !outcome.train) fresh.add(job.index);
      status.set(job.index, "pending");
      toRun.push(job);
    }
    for (const job of toRun)
      await writeJobFiles(
        job,
        dir,
        fresh.has(job.index) && (options.rerun !== undefined || options.replan === true),
      );
    await writeManifest(null, state);

    const ctx: ExecutorContext = {
      studyDir: dir,
      maxWorkers,
      jobTimeout: spec.budget.jobTimeout,
      env: options.env ?? process.env,
      io: options.io,
      ...(options.signal ? { signal: options.signal } : {}),
    };
    const byIndex = new Map(plan.jobs.map((j) => [j.index, j]));
    const queue = [...toRun];
    const retryAt = new Map<number, number>();
    const started = Date.now();
    let inFlight = 0;
    let queuedOnly = false;
    let leftRunning = false;
    let stopping = false;
    let interrupted = false;
    const record = (event: JobEvent, reason?: string) => {
      status.set(event.index, event.status);
      journal.append({ type: "job", ...event, ...(reason ? { reason } : {}) });
      const job = byIndex.get(event.index) as StudyJob;
      progress.event(
        event,
        { ...job, nepochs: job.payload.config.training.nepochs },
        countStatuses(status.values()),
        reason,
      );
    };
    const skipAll = (reason: string) => {
      for (const job of queue.splice(0))
        record(
          {
            index: job.index,
            status: "skipped",
            attempt: attempts.get(job.index) ?? 0,
            time: new Date().toISOString(),
          },
          reason,
        );
      for (const index of [...retryAt.keys()]) {
        retryAt.delete(index);
        record(
          { index, status: "skipped", attempt: attempts.get(index) ?? 0, time: new Date().toISOString() },
          reason,
        );
      }
    };
    const budgetStop = (): string | undefined => {
      const finished = [...durations.values()];
      const estimate = finished.length > 0 ? finished.reduce((a, b) => a + b, 0) / finished.length : 0;
      const { wallTime, maxCost } = spec.budget;
      if (wallTime !== null && (Date.now() - started) / 1000 + estimate > wallTime)
        return `budget: the next job would pass budget.wallTime (${wallTime} s)`;
      if (maxCost !== null && spec.cost) {
        const spent = (finished.reduce((a, b) => a + b, 0) / 3600) * spec.cost.perHour;
        const next = (estimate / 3600) * spec.cost.perHour;
        if (spent + next > maxCost)
          return `budget: the next job would pass budget.maxCost (${maxCost}; spent ${spent.toFixed(3)})`;
      }
      return undefined;
    };
    progress.start(plan.jobs.length, countStatuses(status.values()));

    while (queue.length > 0 || inFlight > 0 || retryAt.size > 0) {
      if (options.signal?.aborted && !interrupted) {
        interrupted = true;
        stopping = true;
        // Jobs not started stay pending: --resume runs them.
        queue.splice(0);
        retryAt.clear();
        if (executor.queues && !(await (options.cancelQueuedOnInterrupt?.() ?? Promise.resolve(false)))) {
          options.io.stderr(
            `trainkit-study: the study's jobs keep running on the cluster; follow them with trainkit-study watch ${dir}, stop them with trainkit-study cancel ${dir}.\n`,
          );
          leftRunning = true;
          break;
        }
        await executor.cancel(
          [...status].filter(([, s]) => s === "running").map(([i]) => i),
          ctx,
        );
      }
      // Start what may start.
      const now = Date.now();
      for (const [index, at] of retryAt) {
        if (at <= now && !stopping) {
          retryAt.delete(index);
          queue.unshift(byIndex.get(index) as StudyJob);
        }
      }
      const starting: StudyJob[] = [];
      while (!stopping && queue.length > 0 && (executor.queues || inFlight + starting.length < maxWorkers)) {
        const reason = executor.queues ? undefined : budgetStop();
        if (reason) {
          skipAll(reason);
          break;
        }
        starting.push(queue.shift() as StudyJob);
      }
      if (starting.length > 0) {
        for (const job of starting) attempts.set(job.index, (attempts.get(job.index) ?? 0) + 1);
        inFlight += starting.length;
        await executor.submit(starting.map(forThisAttempt), ctx);
        if (executor.queues && options.wait !== true) {
          queuedOnly = true;
          break;
        }
      }
      if (inFlight === 0 && queue.length === 0) {
        if (retryAt.size === 0) break;
        await sleep(Math.max(0, Math.min(...retryAt.values()) - Date.now()), options.signal);
        continue;
      }
      const events = await executor.poll(ctx);
      if (events.length === 0 && executor.nextPollDelayMs)
        await sleep(executor.nextPollDelayMs(), options.signal);
      for (const event of events) {
        const job = byIndex.get(event.index);
        if (!job) continue;
        // A cluster counts attempts itself (requeues); locally the runner does.
        const attempt = executor.queues ? event.attempt : (attempts.get(job.index) ?? event.attempt);
        if (executor.queues) attempts.set(job.index, attempt);
        if (event.status === "running" || event.status === "pending" || event.status === "preempted") {
          if (status.get(job.index) !== event.status) record({ ...event, attempt });
          continue;
        }
        inFlight--;
        let final: JobEvent = { ...event, attempt };
        if (event.status === "succeeded") {
          const outcome = await readJobOutcome(
            job.dir,
            job.commands.map((c) => c.step),
          );
          if (outcome.durationSeconds !== null) durations.set(job.index, outcome.durationSeconds);
          if (outcome.train?.payloadSha256 !== job.sha256 || outcome.train?.status !== "succeeded") {
            final = {
              ...final,
              status: "suspect",
              message: "the job exited 0 but its run directory does not record this payload as succeeded",
            };
          }
        } else if (event.status === "failed" && event.transient && attempt <= spec.retries && !stopping) {
          const delay = (options.retryBaseSeconds ?? 2) * 2 ** (attempt - 1) * (0.5 + Math.random());
          record(final);
          journal.append({
            type: "retrying",
            index: job.index,
            attempt: attempt + 1,
            delaySeconds: delay,
            time: new Date().toISOString(),
          });
          retryAt.set(job.index, Date.now() + delay * 1000);
          continue;
        }
        record(final);
        if (options.failFast && final.status !== "succeeded" && !stopping) {
          stopping = true;
          skipAll(`fail-fast: job ${job.index} ${final.status}`);
          await executor.cancel(
            [...status].filter(([, s]) => s === "running").map(([i]) => i),
            ctx,
          );
        }
      }
    }
    const finalCounts = countStatuses(status.values());
    if (queuedOnly || leftRunning) {
      journal.append({
        type: "note",
        time: new Date().toISOString(),
        message: queuedOnly
          ? `queued ${toRun.length} job(s) on ${executor.kind}`
          : "left the jobs running after Ctrl-C",
      });
    } else journal.append({ type: "finished", time: new Date().toISOString(), counts: finalCounts });
    const fold = foldJournal(readJournal(journalPath(dir)) ?? []);
    await writeManifest(queuedOnly || leftRunning ? null : new Date().toISOString(), fold);
    progress.stop(finalCounts);
    if (queuedOnly) return { dir, counts: finalCounts, exitCode: 0, queuedOnly: true };
    const bad = plan.jobs.some((j) => status.get(j.index) !== "succeeded");
    return { dir, counts: finalCounts, exitCode: interrupted ? 130 : bad ? 1 : 0 };
  } finally {
    journal.close();
    lock.release();
  }
}

/** A job continues from its last checkpoint when its run directory already holds a run. */
function forThisAttempt(job: StudyJob): StudyJob {
  if (!existsSync(join(job.dir, "manifest.json"))) return job;
  return {
    ...job,
    commands: job.commands.map((c) => (c.step === "train" ? { ...c, argv: [...c.argv, "--resume"] } : c)),
  };
}

/** Jobs of an earlier run that this selection left out keep their record. */
function mergeJobs(
  previous: StudyManifest | undefined,
  jobs: readonly StudyManifestJob[],
): StudyManifestJob[] {
  const byIndex = new Map((previous?.jobs ?? []).map((j) => [j.index, j]));
  for (const j of jobs) byIndex.set(j.index, j);
  return [...byIndex.values()].sort((a, b) => a.index - b.index);
}
