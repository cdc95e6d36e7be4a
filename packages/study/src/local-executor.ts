import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { envVariables, RESERVED_ENV } from "@trainkit/factory";
import type { Executor, ExecutorContext, JobEvent, PlannedJob } from "./types.ts";

/** Exit code a job uses to ask for a retry (EX_TEMPFAIL). */
export const TEMPFAIL = 75;

export interface LocalExecutorOptions {
  /** Working directory of every job (paths in payloads are relative to it). */
  readonly cwd?: string;
  /** Extra arguments per step for this attempt (e.g. `--resume`), decided by the runner. */
  readonly extraArgs?: (job: PlannedJob, step: string) => readonly string[];
  /** Seconds between SIGTERM and SIGKILL when a job is stopped. */
  readonly graceSeconds?: number;
  /** GPUs present (defaults to what `nvidia-smi -L` lists). */
  readonly gpus?: number;
}

interface Running {
  readonly job: PlannedJob;
  readonly attempt: number;
  child?: ChildProcess | undefined;
  stopping?: "timeout" | "cancelled" | "interrupted";
  timer?: NodeJS.Timeout;
  gpus: number[];
}

function countGpus(): number {
  try {
    return execFileSync("nvidia-smi", ["-L"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 5000,
    })
      .split("\n")
      .filter((l) => l.startsWith("GPU ")).length;
  } catch {
    return 0;
  }
}

/**
 * Settings in `TRAINKIT_*` variables were read when the study was planned and are in every payload;
 * a job started with `--payload` refuses them, so they are not passed on. Reserved variables and
 * those of secret fields (masked in payload.json) are.
 */
function passesToJob(name: string): boolean {
  if (!name.startsWith("TRAINKIT_") || RESERVED_ENV.has(name)) return true;
  return envVariables().get(name)?.field.meta.secret === true;
}

/** What an out-of-memory failure leaves in a job's log (the engine, WebAssembly, Node, the OS). */
const OUT_OF_MEMORY =
  /out of memory|Memory\.grow|Cannot allocate memory|ENOMEM|Array buffer allocation failed/i;

/** Whether the end of a step's log says it ran out of memory (a failure worth retrying). */
function ranOutOfMemory(logFile: string): boolean {
  try {
    const text = readFileSync(logFile, "utf8");
    return OUT_OF_MEMORY.test(text.slice(-8192));
  } catch {
    return false;
  }
}

/** How many GPUs a job asks for: `execution.devices` when the accelerator is a GPU. */
function gpusWanted(job: PlannedJob): number {
  const { accelerator, devices } = job.payload.config.execution as { accelerator: string; devices: unknown };
  if (accelerator !== "gpu" && accelerator !== "cuda") return 0;
  return typeof devices === "number" ? devices : 1;
}

/**
 * Runs each job's commands as fresh child processes on this machine (no shell), at most
 * `ctx.maxWorkers` at once, each in its own process group so a timeout or Ctrl-C stops everything
 * it started. Jobs get `TRAINKIT_THREAD_BUDGET` (cores / workers) and, when they ask for GPUs and
 * several are present, their own `CUDA_VISIBLE_DEVICES`.
 */
export function createLocalExecutor(
  options: LocalExecutorOptions = {},
): Executor & { readonly running: number } {
  const queue: { job: PlannedJob; attempt: number }[] = [];
  const running = new Map<number, Running>();
  const events: JobEvent[] = [];
  const attempts = new Map<number, number>();
  let wake: (() => void) | undefined;
  let gpuCount: number | undefined;
  const freeGpus: number[] = [];
  const emit = (event: JobEvent) => {
    events.push(event);
    wake?.();
  };
  const now = () => new Date().toISOString();

  const start = (ctx: ExecutorContext) => {
    while (queue.length > 0 && running.size < ctx.maxWorkers) {
      const { job, attempt } = queue.shift() as { job: PlannedJob; attempt: number };
      const want = gpusWanted(job);
      if (want > 0 && gpuCount === undefined) {
        gpuCount = options.gpus ?? countGpus();
        for (let g = 0; g < gpuCount; g++) freeGpus.push(g);
      }
      const gpus = want > 0 && (gpuCount ?? 0) > 1 ? freeGpus.splice(0, Math.min(want, freeGpus.length)) : [];
      const entry: Running = { job, attempt, gpus };
      running.set(job.index, entry);
      void runSteps(entry, ctx);
    }
  };

  const runSteps = async (entry: Running, ctx: ExecutorContext) => {
    const { job, attempt } = entry;
    const threads = Math.max(1, Math.floor(availableParallelism() / Math.max(1, ctx.maxWorkers)));
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(ctx.env)) if (v !== undefined && passesToJob(k)) env[k] = v;
    env.TRAINKIT_THREAD_BUDGET = String(threads);
    if (entry.gpus.length > 0) env.CUDA_VISIBLE_DEVICES = entry.gpus.join(",");
    const logs = join(ctx.studyDir, "logs");
    mkdirSync(logs, { recursive: true });
    let final: JobEvent | undefined;
    for (const command of job.commands) {
      const argv = [...command.argv, ...(options.extraArgs?.(job, command.step) ?? [])];
      const log = openSync(join(logs, `${String(job.index).padStart(4, "0")}.${command.step}.log`), "a");
      const started = Date.now();
      const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
        (resolve) => {
          const child = spawn(argv[0] as string, argv.slice(1), {
            cwd: options.cwd ?? process.cwd(),
            env,
            stdio: ["ignore", log, log],
            detached: true,
          });
          entry.child = child;
          if (command === job.commands[0]) {
            emit({
              index: job.index,
              status: "running",
              attempt,
              time: now(),
              executorId: String(child.pid ?? ""),
            });
          }
          if (ctx.jobTimeout !== null && !entry.timer) {
            entry.timer = setTimeout(() => stop(entry, "timeout"), ctx.jobTimeout * 1000);
          }
          child.once("error", (error) => resolve({ code: null, signal: null, error }));
          child.once("exit", (code, signal) => resolve({ code, signal }));
        },
      );
      closeSync(log);
      entry.child = undefined;
      const base = { index: job.index, attempt, time: now() };
      if (ended.error) {
        final = {
          ...base,
          status: "failed",
          exitCode: null,
          message: `${command.step}: cannot start ${argv[0]}: ${ended.error.message}`,
        };
        break;
      }
      if (entry.stopping === "timeout") {
        final = {
          ...base,
          status: "timeout",
          exitCode: ended.code,
          message: `${command.step}: stopped after budget.jobTimeout (${ctx.jobTimeout} s)`,
        };
        break;
      }
      if (entry.stopping === "cancelled" || entry.stopping === "interrupted") {
        final = {
          ...base,
          status: entry.stopping === "cancelled" ? "cancelled" : "interrupted",
          exitCode: ended.code,
        };
        break;
      }
      if (ended.code !== 0) {
        const logFile = join(logs, `${String(job.index).padStart(4, "0")}.${command.step}.log`);
        const transient = ended.code === TEMPFAIL || ended.signal !== null || ranOutOfMemory(logFile);
        final = {
          ...base,
          status: "failed",
          exitCode: ended.code,
          transient,
          message: `${command.step}: ${ended.signal ? `killed by ${ended.signal}` : `exit code ${ended.code}`} after ${((Date.now() - started) / 1000).toFixed(1)} s (log: ${join("logs", `${String(job.index).padStart(4, "0")}.${command.step}.log`)})`,
        };
        break;
      }
    }
    if (entry.timer) clearTimeout(entry.timer);
    freeGpus.push(...entry.gpus);
    running.delete(job.index);
    emit(final ?? { index: job.index, attempt, status: "succeeded", exitCode: 0, time: now() });
    start(ctx);
  };

  const stop = (entry: Running, why: "timeout" | "cancelled" | "interrupted") => {
    entry.stopping = why;
    const pid = entry.child?.pid;
    if (pid === undefined) return;
    const signal = why === "interrupted" ? "SIGINT" : "SIGTERM";
    try {
      process.kill(-pid, signal);
    } catch {
      /* already gone */
    }
    const kill = setTimeout(
      () => {
        try {
          process.kill(-pid, "SIGKILL");
        } catch {
          /* already gone */
        }
      },
      (options.graceSeconds ?? 10) * 1000,
    );
    kill.unref();
    entry.child?.once("exit", () => clearTimeout(kill));
  };

  return {
    kind: "local",
    get running() {
      return running.size + queue.length;
    },
    async submit(jobs, ctx) {
      for (const job of jobs) {
        const attempt = (attempts.get(job.index) ?? 0) + 1;
        attempts.set(job.index, attempt);
        queue.push({ job, attempt });
      }
      start(ctx);
    },
    async poll(ctx) {
      if (events.length === 0 && (running.size > 0 || queue.length > 0)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            ctx.signal?.removeEventListener("abort", done);
            resolve();
          };
          const timer = setTimeout(done, 1000);
          wake = done;
          ctx.signal?.addEventListener("abort", done, { once: true });
        });
        wake = undefined;
      }
      return events.splice(0, events.length);
    },
    async cancel(indices, ctx) {
      const why = ctx.signal?.aborted ? "interrupted" : "cancelled";
      for (let i = queue.length - 1; i >= 0; i--) {
        const q = queue[i] as { job: PlannedJob; attempt: number };
        if (indices.includes(q.job.index)) {
          queue.splice(i, 1);
          emit({ index: q.job.index, attempt: q.attempt, status: "cancelled", time: now() });
        }
      }
      for (const index of indices) {
        const entry = running.get(index);
        if (entry) stop(entry, why);
      }
    },
  };
}
