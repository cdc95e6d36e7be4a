import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { closestName, renderValue } from "@trainkit/config-meta";
import { writeFileAtomic } from "@trainkit/data";
import type { Executor, ExecutorContext, JobEvent, JobStatus, PlannedJob } from "../types.ts";
import { type Backoff, createBackoff } from "./backoff.ts";
import { type CommandResult, runSlurmCommand, type SlurmCommandName } from "./commands.ts";
import { isSlurmError, SlurmError } from "./errors.ts";
import {
  accountingDisabled,
  isTransientSlurmError,
  parseMaxArraySize,
  parseSacct,
  parseSbatchOutput,
  parseSqueue,
  SACCT_FORMAT,
  type SacctRow,
  SQUEUE_FORMAT,
  type SqueueRow,
} from "./parse.ts";
import { type ChunkPlan, renderArgvFile, renderBatchScript, slurmPathPattern, tableLine } from "./script.ts";
import { type SlurmSettings, type SlurmSettingsInput, SlurmSettingsSchema } from "./settings.ts";
import {
  type CompletionRecord,
  FINAL_STATUSES,
  judgeJob,
  parseCompletionRecord,
  type Verdict,
} from "./status.ts";

export interface SlurmExecutorOptions {
  /** Programs to run instead of `sbatch`, `sacct`, ... (site wrappers; tests). */
  readonly commands?: Partial<Readonly<Record<SlurmCommandName, string>>>;
  /** Tries of one sbatch call on transient errors (socket timeouts, "temporarily unable"); default 6. */
  readonly submitTries?: number;
  /** Limit of one Slurm command, in milliseconds; default 60 s. */
  readonly commandTimeoutMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  readonly now?: () => number;
}

/** One sbatch submission, as `<studyDir>/slurm/chunk-<n>.json` records it. */
export interface SlurmChunk {
  readonly version: 1;
  readonly chunk: number;
  readonly arrayJobId: string;
  readonly cluster: string | null;
  readonly jobName: string;
  readonly size: number;
  readonly script: string;
  readonly table: string;
  /** ISO time sbatch answered. */
  readonly submittedAt: string;
}

/** The Slurm executor: the study's `Executor`, plus reattaching from the files it wrote. */
export interface SlurmExecutor extends Executor {
  readonly kind: "slurm";
  readonly queues: true;
  readonly settings: SlurmSettings;
  /**
   * Rebuilds the executor's state from `<studyDir>/slurm/` (another shell, or after the orchestrator
   * was killed). The next poll then reports the current state of every job it knows.
   */
  reattach(ctx: ExecutorContext): Promise<void>;
  /** How long to wait before the next poll: 2 s doubling to 60 s (with jitter), reset by submit and by changes. */
  nextPollDelayMs(): number;
  /** The submissions made or reattached so far, oldest first. */
  chunks(): readonly SlurmChunk[];
  /** `<arrayJobId>_<task>` of the job's latest submission, if it was submitted. */
  executorIdOf(index: number): string | undefined;
}

interface TaskRef {
  readonly index: number;
  readonly chunk: SlurmChunk;
  readonly task: number;
  readonly attemptBase: number;
  readonly dir: string;
  readonly submittedAtMs: number;
}

interface Emitted {
  readonly status: JobStatus;
  readonly attempt: number;
}

const MAX_ARRAY_SIZE_FALLBACK = 1001;
const WRITE_CONCURRENCY = 64;

/** Parses the spec's `slurm:` section into settings; a coded error names every bad field. */
export function parseSlurmSettings(input: unknown, origin = "the slurm section"): SlurmSettings {
  const result = SlurmSettingsSchema.safeParse(input ?? {});
  if (result.success) return result.data;
  const lines = result.error.issues.flatMap((issue) => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => {
        const near = closestName(key, Object.keys(SlurmSettingsSchema.shape));
        return `slurm.${key}: unknown setting${near ? `; did you mean slurm.${near}?` : ""} (from ${origin}).`;
      });
    }
    const path = ["slurm", ...issue.path.map(String)].join(".");
    const got = issue.path.reduce<unknown>(
      (value, key) => (value as Record<PropertyKey, unknown> | undefined)?.[key as PropertyKey],
      input,
    );
    const text = issue.message.startsWith("slurm.") ? issue.message : `${path}: ${issue.message}`;
    return [`${text}, got ${renderValue(got)} (from ${origin}).`];
  });
  throw new SlurmError("SLURM_SETTINGS_INVALID", lines.join("\n"));
}

/** The job name every chunk of a study carries: `tk-` and 10 hex digits of the study directory's hash. */
export function slurmJobName(studyDir: string): string {
  return `tk-${createHash("sha256").update(resolve(studyDir)).digest("hex").slice(0, 10)}`;
}

async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

function slurmDir(studyDir: string): string {
  return join(studyDir, "slurm");
}

/** Creates the Slurm executor for one study. Settings are the spec's `slurm:` section (validated here). */
export function createSlurmExecutor(
  settingsInput: SlurmSettingsInput | SlurmSettings = {},
  options: SlurmExecutorOptions = {},
): SlurmExecutor {
  const settings = parseSlurmSettings(settingsInput);
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = options.now ?? Date.now;
  const submitTries = options.submitTries ?? 6;
  const timeoutMs = options.commandTimeoutMs ?? 60_000;
  const pollBackoff: Backoff = createBackoff({ ...(options.random ? { random: options.random } : {}) });

  const tasks = new Map<number, TaskRef>();
  const chunkList: SlurmChunk[] = [];
  const emitted = new Map<number, Emitted>();
  const final = new Set<number>();
  const attempts = new Map<number, number>();
  const seenStarted = new Set<number>();
  const requeued = new Set<number>();
  let maxArraySize: number | undefined;
  let accounting: boolean | undefined;
  let nextChunk: number | undefined;

  const run = (
    name: SlurmCommandName,
    args: readonly string[],
    ctx: ExecutorContext,
  ): Promise<CommandResult> =>
    runSlurmCommand(name, args, {
      commands: options.commands,
      env: ctx.env.PATH === undefined ? { ...ctx.env, PATH: process.env.PATH } : ctx.env,
      timeoutMs,
    });

  async function clusterMaxArraySize(ctx: ExecutorContext): Promise<number> {
    if (maxArraySize === undefined) {
      const answer = await run("scontrol", ["show", "config"], ctx);
      const parsed = answer.code === 0 ? parseMaxArraySize(answer.stdout) : undefined;
      if (parsed === undefined) {
        ctx.io.stderr(
          `slurm: could not read MaxArraySize from \`scontrol show config\` (${(answer.stderr || answer.stdout).trim() || `exit ${answer.code}`}); using Slurm's default ${MAX_ARRAY_SIZE_FALLBACK}.\n`,
        );
      }
      maxArraySize = parsed ?? MAX_ARRAY_SIZE_FALLBACK;
    }
    return settings.maxArraySize === null ? maxArraySize : Math.min(maxArraySize, settings.maxArraySize);
  }

  async function firstFreeChunk(dir: string): Promise<number> {
    if (nextChunk === undefined) {
      const names = await readdir(dir).catch(() => [] as string[]);
      const used = names.map((n) => /^chunk-(\d+)\.(?:json|tsv|sh)$/.exec(n)).filter((m) => m !== null);
      nextChunk = used.reduce((max, m) => Math.max(max, Number(m[1]) + 1), 0);
      for (const c of chunkList) nextChunk = Math.max(nextChunk, c.chunk + 1);
    }
    return nextChunk;
  }

  async function sbatch(args: readonly string[], ctx: ExecutorContext, what: string): Promise<CommandResult> {
    const backoff = createBackoff({ ...(options.random ? { random: options.random } : {}) });
    for (let attempt = 1; ; attempt++) {
      const answer = await run("sbatch", args, ctx);
      const message = `${answer.stderr}\n${answer.stdout}`.trim();
      if (answer.code === 0 && parseSbatchOutput(answer.stdout)) return answer;
      const transient = answer.code === null || isTransientSlurmError(message);
      if (!transient || attempt >= submitTries) {
        throw new SlurmError(
          "SLURM_SUBMIT_REJECTED",
          `sbatch refused ${what}${attempt > 1 ? ` after ${attempt} tries` : ""}: ${message || `exit ${answer.code}`}`,
        );
      }
      if (ctx.signal?.aborted) {
        throw new SlurmError(
          "SLURM_SUBMIT_REJECTED",
          `sbatch (${what}) was not retried: the study was interrupted (${message}).`,
        );
      }
      const delay = backoff.next();
      ctx.io.stderr(
        `slurm: sbatch (${what}) failed for now (${message}); trying again in ${Math.round(delay / 1000)} s.\n`,
      );
      await sleep(delay);
    }
  }

  function register(
    chunk: SlurmChunk,
    lines: readonly { index: number; attemptBase: number; dir: string }[],
    submittedAtMs: number,
  ) {
    chunkList.push(chunk);
    lines.forEach((line, task) => {
      tasks.set(line.index, {
        index: line.index,
        chunk,
        task,
        attemptBase: line.attemptBase,
        dir: line.dir,
        submittedAtMs,
      });
      final.delete(line.index);
      seenStarted.delete(line.index);
      requeued.delete(line.index);
    });
  }

  async function submit(jobs: readonly PlannedJob[], ctx: ExecutorContext): Promise<void> {
    if (jobs.length === 0) return;
    const root = slurmDir(ctx.studyDir);
    const argvDir = join(root, "argv");
    const logDir = join(root, "logs");
    await mkdir(argvDir, { recursive: true });
    await mkdir(logDir, { recursive: true });
    const jobName = slurmJobName(ctx.studyDir);
    const cap = await clusterMaxArraySize(ctx);
    const limits = [settings.timeLimit, ctx.jobTimeout].filter((v): v is number => v !== null && v > 0);
    const timeLimitSeconds = limits.length === 0 ? null : Math.min(...limits);
    if (timeLimitSeconds !== null && timeLimitSeconds % 60 !== 0) {
      const minutes = Math.ceil(timeLimitSeconds / 60);
      ctx.io.stderr(
        `slurm: --time has a granularity of whole minutes: the job limit of ${timeLimitSeconds} s is submitted as --time=${minutes} (${minutes * 60} s).\n`,
      );
    }
    const throttle =
      Number.isFinite(ctx.maxWorkers) && ctx.maxWorkers >= 1 ? Math.floor(ctx.maxWorkers) : null;

    // Everything the jobs read is written before the first sbatch; bad input fails here, with nothing submitted.
    const rows = jobs.map((job) => ({
      index: job.index,
      attemptBase: attempts.get(job.index) ?? 0,
      dir: resolve(job.dir),
      line: tableLine(job.index, attempts.get(job.index) ?? 0, resolve(job.dir)),
      argv: renderArgvFile(job),
    }));
    await mapLimit(rows, WRITE_CONCURRENCY, (row) => writeFile(join(argvDir, String(row.index)), row.argv));

    let first = await firstFreeChunk(root);
    let previous: string | null = null;
    for (let start = 0; start < rows.length; start += cap) {
      const part = rows.slice(start, start + cap);
      const chunk = first++;
      nextChunk = first;
      const plan: ChunkPlan = {
        jobName,
        chunk,
        size: part.length,
        throttle,
        timeLimitSeconds,
        settings,
        tablePath: join(root, `chunk-${chunk}.tsv`),
        argvDir,
        recordsDir: join(root, "records"),
      };
      const scriptPath = join(root, `chunk-${chunk}.sh`);
      await writeFileAtomic(plan.tablePath, part.map((row) => row.line).join(""));
      await writeFileAtomic(scriptPath, renderBatchScript(plan));
      const args = [
        "--parsable",
        `--output=${slurmPathPattern(join(logDir, "%A_%a.out"))}`,
        `--error=${slurmPathPattern(join(logDir, "%A_%a.err"))}`,
        ...(previous !== null && throttle !== null ? [`--dependency=afterany:${previous}`] : []),
        scriptPath,
      ];
      const what = `chunk ${chunk} (jobs ${part[0]!.index}..${part[part.length - 1]!.index})`;
      let answer: CommandResult;
      try {
        answer = await sbatch(args, ctx, what);
      } catch (error) {
        if (isSlurmError(error, "SLURM_SUBMIT_REJECTED")) {
          const left = rows.length - start;
          const before = chunkList.filter((c) => c.jobName === jobName).length;
          throw new SlurmError(
            "SLURM_SUBMIT_REJECTED",
            `${error.message}\n${left} job(s) were not submitted${start > 0 ? `; the ${start} submitted before them are queued (${before} chunk(s) in total for this study)` : ""}. Fix the slurm: section (partition, account, qos, limits) and submit again.`,
            { cause: error },
          );
        }
        throw error;
      }
      const parsed = parseSbatchOutput(answer.stdout)!;
      const record: SlurmChunk = {
        version: 1,
        chunk,
        arrayJobId: parsed.jobId,
        cluster: parsed.cluster,
        jobName,
        size: part.length,
        script: scriptPath,
        table: plan.tablePath,
        submittedAt: new Date(now()).toISOString(),
      };
      await writeFileAtomic(join(root, `chunk-${chunk}.json`), `${JSON.stringify(record, null, 2)}\n`);
      register(record, part, now());
      previous = parsed.jobId;
    }
    pollBackoff.reset();
  }

  async function readRecord(ref: TaskRef, ctx: ExecutorContext): Promise<CompletionRecord | undefined> {
    const recordsRoot = join(slurmDir(ctx.studyDir), "records");
    let text: string;
    try {
      text = await readFile(join(recordsRoot, String(ref.index), "status.json"), "utf8");
    } catch {
      return undefined;
    }
    const record = parseCompletionRecord(text);
    if (!record || record.arrayJobId !== ref.chunk.arrayJobId || record.arrayTaskId !== String(ref.task)) {
      return undefined; // an earlier submission's record
    }
    return record;
  }

  function byTask<T extends { id: { jobId: string; tasks: readonly number[] | null } }>(rows: readonly T[]) {
    const map = new Map<string, T>();
    for (const row of rows) {
      for (const task of row.id.tasks ?? []) map.set(`${row.id.jobId}_${task}`, row);
    }
    return map;
  }

  async function poll(ctx: ExecutorContext): Promise<readonly JobEvent[]> {
    const open = [...tasks.values()].filter((ref) => !final.has(ref.index));
    if (open.length === 0) return [];
    const ids = [...new Set(open.map((ref) => ref.chunk.arrayJobId))];
    const names = [...new Set(open.map((ref) => ref.chunk.jobName))].join(",");

    let sacctRows: SacctRow[] = [];
    if (accounting !== false) {
      // By id *and* name: job ids are reused (a controller whose state was reset, an id space that
      // wrapped), and until slurmdbd has the new job's row, sacct -j answers with the old job's
      // (measured on 22.05: an earlier job's "CANCELLED by 0" for a job that had just succeeded).
      const answer = await run(
        "sacct",
        ["-X", "-P", "-n", `--format=${SACCT_FORMAT}`, "-j", ids.join(","), `--name=${names}`],
        ctx,
      );
      if (accountingDisabled(`${answer.stdout}\n${answer.stderr}`)) {
        accounting = false;
        ctx.io.stderr(
          "slurm: this cluster has no accounting (sacct: accounting storage is disabled); job states come from squeue and the jobs' completion records only, so a time limit, an out-of-memory kill or a node failure shows as failed or interrupted.\n",
        );
      } else if (answer.code !== 0) {
        ctx.io.stderr(
          `slurm: sacct failed (${answer.stderr.trim() || `exit ${answer.code}`}); trying again at the next poll.\n`,
        );
        return [];
      } else {
        accounting = true;
        sacctRows = parseSacct(answer.stdout);
      }
    }
    const queue = await run("squeue", ["-h", "-r", `--name=${names}`, "-o", SQUEUE_FORMAT], ctx);
    if (queue.code !== 0) {
      ctx.io.stderr(
        `slurm: squeue failed (${queue.stderr.trim() || `exit ${queue.code}`}); trying again at the next poll.\n`,
      );
      return [];
    }
    const squeueRows: SqueueRow[] = parseSqueue(queue.stdout);
    const sacctByTask = byTask(sacctRows);
    const squeueByTask = byTask(squeueRows);

    const events: JobEvent[] = [];
    const time = new Date(now()).toISOString();
    await mapLimit(open, WRITE_CONCURRENCY, async (ref) => {
      const key = `${ref.chunk.arrayJobId}_${ref.task}`;
      const sacct = sacctByTask.get(key);
      const squeue = squeueByTask.get(key);
      const liveState = squeue?.state ?? sacct?.state;
      if (liveState === "RUNNING") seenStarted.add(ref.index);
      // A pending task has a record of its own only after it ran (a requeue): Slurm split it off the
      // array then, so its sacct row is no longer a collapsed range. Never-started tasks are not read.
      const last = emitted.get(ref.index)?.status;
      const needRecord =
        liveState === "RUNNING"
          ? requeued.has(ref.index) // the attempt number of a requeued job comes from its record
          : liveState !== "PENDING" ||
            seenStarted.has(ref.index) ||
            last === "running" ||
            last === "preempted" ||
            (sacct !== undefined && !sacct.id.collapsed);
      const record = needRecord ? await readRecord(ref, ctx) : undefined;
      const endMs = sacct?.end ? Date.parse(sacct.end) : Number.NaN;
      const judged = judgeJob({
        sacct,
        squeue,
        record,
        accounting: accounting !== false,
        attemptBase: ref.attemptBase,
        secondsSinceSubmit: (now() - ref.submittedAtMs) / 1000,
        secondsSinceEnd: Number.isNaN(endMs) ? null : (now() - endMs) / 1000,
      });
      const previous = emitted.get(ref.index);
      // A requeued job that shows COMPLETING is its interrupted attempt still ending (squeue reports
      // the completing flag over the pending state): it stays preempted, not running again.
      if (previous?.status === "preempted" && liveState === "COMPLETING") return;
      // A preemption names the attempt that ended (its record's). One older than an attempt already
      // reported is that attempt's record still read after the job moved on: old news, not a new
      // preemption (raising it to the current attempt made the next start count one attempt too many).
      if (judged?.status === "preempted" && previous && judged.attempt < previous.attempt) return;
      // squeue still says pending while the record already says `running`: the next attempt started
      // between the two reads. Not a second preemption (reporting one made the start after it count
      // one attempt too many); the next poll sees it running.
      if (judged?.status === "preempted" && previous?.status === "preempted" && record?.state === "running") {
        return;
      }
      // "Not known yet" (an empty answer, a record still on its way) keeps what was reported before;
      // a job never reported is pending.
      if (judged === null && previous) return;
      let verdict: Verdict = judged ?? {
        status: "pending" as const,
        attempt: ref.attemptBase + 1,
        exitCode: null,
        message: "submitted; not in sacct or squeue yet",
      };
      // Attempts only go forward. A job running again after a requeue is the next attempt, even
      // while the record left by the interrupted one (never finished, or not yet replaced on this
      // file system) still says `running` with its number.
      const floor =
        previous === undefined
          ? 0
          : verdict.status === "running" && previous.status === "preempted"
            ? previous.attempt + 1
            : previous.attempt;
      if (verdict.attempt < floor) verdict = { ...verdict, attempt: floor };
      if (previous && previous.status === verdict.status && previous.attempt === verdict.attempt) return;
      emitted.set(ref.index, { status: verdict.status, attempt: verdict.attempt });
      if (verdict.status === "preempted") requeued.add(ref.index);
      attempts.set(ref.index, verdict.attempt);
      if (FINAL_STATUSES.has(verdict.status)) final.add(ref.index);
      events.push({
        index: ref.index,
        status: verdict.status,
        attempt: verdict.attempt,
        exitCode: verdict.exitCode,
        executorId: key,
        time,
        ...(verdict.message === undefined ? {} : { message: verdict.message }),
      });
    });
    events.sort((a, b) => a.index - b.index);
    if (events.length > 0) pollBackoff.reset();
    return events;
  }

  async function cancel(indices: readonly number[], ctx: ExecutorContext): Promise<void> {
    const ids = indices
      .map((index) => tasks.get(index))
      .filter((ref): ref is TaskRef => ref !== undefined && !final.has(ref.index))
      .map((ref) => `${ref.chunk.arrayJobId}_${ref.task}`);
    if (ids.length === 0) return;
    const answer = await run("scancel", ids, ctx);
    if (answer.code !== 0) {
      const other = answer.stderr
        .split("\n")
        .filter(
          (line) =>
            line.trim() !== "" && !/already completing or completed|Invalid job id specified/i.test(line),
        );
      if (other.length > 0) {
        throw new SlurmError("SLURM_COMMAND_FAILED", `scancel failed: ${other.join("; ")}`);
      }
    }
  }

  async function reattach(ctx: ExecutorContext): Promise<void> {
    const root = slurmDir(ctx.studyDir);
    const names = await readdir(root).catch(() => [] as string[]);
    const found = names
      .map((n) => /^chunk-(\d+)\.json$/.exec(n))
      .filter((m) => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    if (found.length === 0) {
      throw new SlurmError(
        "SLURM_NOTHING_TO_REATTACH",
        `${root} holds no Slurm submission (no chunk-<n>.json): was this study run with the Slurm executor?`,
      );
    }
    tasks.clear();
    chunkList.length = 0;
    emitted.clear();
    final.clear();
    seenStarted.clear();
    requeued.clear();
    for (const n of found) {
      const chunk = JSON.parse(await readFile(join(root, `chunk-${n}.json`), "utf8")) as SlurmChunk;
      const table = await readFile(chunk.table, "utf8");
      const lines = table
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => {
          const [index, base, ...dir] = l.split("\t");
          return { index: Number(index), attemptBase: Number(base), dir: dir.join("\t") };
        });
      register(chunk, lines, Date.parse(chunk.submittedAt));
      for (const line of lines) attempts.set(line.index, line.attemptBase);
    }
    nextChunk = found[found.length - 1]! + 1;
    pollBackoff.reset();
  }

  return {
    kind: "slurm",
    queues: true,
    settings,
    submit,
    poll,
    cancel,
    reattach,
    nextPollDelayMs: () => pollBackoff.next(),
    chunks: () => [...chunkList],
    executorIdOf(index) {
      const ref = tasks.get(index);
      return ref ? `${ref.chunk.arrayJobId}_${ref.task}` : undefined;
    },
  };
}
