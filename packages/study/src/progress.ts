import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { JobEvent, JobStatus } from "./types.ts";

/** What a progress view shows of a job. */
export interface ProgressJob {
  readonly index: number;
  readonly label: string;
  readonly dir: string;
  /** Epochs of its training (the bar's length). */
  readonly nepochs: number;
}

/** How a study shows its progress. */
export interface ProgressView {
  start(total: number, counts: Readonly<Record<JobStatus, number>>): void;
  event(
    event: JobEvent,
    job: ProgressJob,
    counts: Readonly<Record<JobStatus, number>>,
    reason?: string,
  ): void;
  stop(counts: Readonly<Record<JobStatus, number>>): void;
}

export function summary(counts: Readonly<Record<JobStatus, number>>): string {
  const failed = counts.failed + counts.timeout + counts.out_of_memory + counts.node_fail + counts.suspect;
  return `done ${counts.succeeded}, running ${counts.running}, failed ${failed}, pending ${counts.pending + counts.preempted}, skipped ${counts.skipped + counts.cancelled + counts.interrupted}`;
}

/** Without a terminal: one plain line per state change. */
export function createPlainProgress(write: (text: string) => void): ProgressView {
  let total = 0;
  return {
    start(n, counts) {
      total = n;
      write(`trainkit-study: ${n} job(s): ${summary(counts)}\n`);
    },
    event(event, job, counts, reason) {
      const finished =
        counts.succeeded +
        counts.failed +
        counts.timeout +
        counts.out_of_memory +
        counts.node_fail +
        counts.suspect +
        counts.skipped +
        counts.cancelled;
      const detail = reason ?? event.message;
      write(
        `[${finished}/${total}] ${event.status.padEnd(11)} ${String(job.index).padStart(4, "0")}-${job.label}${event.attempt > 1 ? ` (attempt ${event.attempt})` : ""}${detail ? `: ${detail}` : ""}\n`,
      );
    },
    stop(counts) {
      write(`trainkit-study: finished: ${summary(counts)}\n`);
    },
  };
}

/** Epoch and loss of a running job, from the newest metrics.csv in its run directory. */
export async function liveMetrics(dir: string): Promise<{ epoch: number; loss: number | null } | undefined> {
  const logs = join(dir, "lightning_logs");
  const versions = (await readdir(logs).catch(() => [] as string[]))
    .filter((v) => v.startsWith("version_"))
    .sort();
  const last = versions.at(-1);
  if (!last) return undefined;
  const text = await readFile(join(logs, last, "metrics.csv"), "utf8").catch(() => "");
  const lines = text.trim().split("\n");
  if (lines.length < 2) return undefined;
  const head = (lines[0] ?? "").split(",");
  const row = (lines.at(-1) ?? "").split(",");
  const at = (name: string) => {
    const i = head.indexOf(name);
    const n = i >= 0 ? Number(row[i]) : Number.NaN;
    return Number.isFinite(n) ? n : null;
  };
  return { epoch: (at("epoch") ?? 0) + 1, loss: at("train_loss") };
}

/**
 * On a terminal: a live view (cli-progress multibar): the study's bar with counts and an ETA from
 * finished durations, and one line per running job with its epoch and loss.
 */
export async function createLiveProgress(stream: NodeJS.WriteStream): Promise<ProgressView> {
  const { MultiBar, Presets } = await import("cli-progress");
  const bars = new MultiBar(
    {
      stream,
      clearOnComplete: false,
      hideCursor: true,
      format: "{label} |{bar}| {value}/{total} {info}",
      autopadding: true,
    },
    Presets.shades_grey,
  );
  let study: ReturnType<typeof bars.create> | undefined;
  const running = new Map<number, { bar: ReturnType<typeof bars.create>; job: ProgressJob; since: number }>();
  const durations: number[] = [];
  let total = 0;
  let last: Readonly<Record<JobStatus, number>> | undefined;
  const eta = (counts: Readonly<Record<JobStatus, number>>) => {
    if (durations.length === 0) return "";
    const mean = durations.reduce((a, b) => a + b, 0) / durations.length;
    const left = counts.pending + counts.running;
    const workers = Math.max(1, running.size);
    return ` | ETA ${Math.round((left * mean) / workers)} s`;
  };
  const timer = setInterval(async () => {
    for (const [, r] of running) {
      const m = await liveMetrics(r.job.dir);
      const nepochs = r.job.nepochs;
      r.bar.setTotal(nepochs);
      r.bar.update(m ? Math.min(m.epoch, nepochs) : 0, {
        label: `  ${String(r.job.index).padStart(4, "0")} ${r.job.label}`.slice(0, 48).padEnd(48),
        info: `epoch${m?.loss !== null && m?.loss !== undefined ? ` | loss ${m.loss.toPrecision(4)}` : ""} | ${Math.round((Date.now() - r.since) / 1000)} s`,
      });
    }
  }, 1000);
  timer.unref();
  const finished = (c: Readonly<Record<JobStatus, number>>) =>
    c.succeeded + c.failed + c.timeout + c.out_of_memory + c.node_fail + c.suspect + c.skipped + c.cancelled;
  return {
    start(n, counts) {
      total = n;
      study = bars.create(total, finished(counts), { label: "study".padEnd(48), info: summary(counts) });
    },
    event(event, job, counts, reason) {
      last = counts;
      if (event.status === "running" && !running.has(job.index)) {
        running.set(job.index, {
          bar: bars.create(job.nepochs, 0, {
            label: `  ${job.label}`.slice(0, 48).padEnd(48),
            info: "starting",
          }),
          job,
          since: Date.now(),
        });
      } else if (event.status !== "running") {
        const r = running.get(job.index);
        if (r) {
          durations.push((Date.now() - r.since) / 1000);
          bars.remove(r.bar);
          running.delete(job.index);
        }
        if (event.status !== "succeeded")
          bars.log(
            `${event.status} ${String(job.index).padStart(4, "0")}-${job.label}${reason || event.message ? `: ${reason ?? event.message}` : ""}\n`,
          );
      }
      study?.update(finished(counts), { info: `${summary(counts)}${eta(counts)}` });
    },
    stop(counts) {
      clearInterval(timer);
      study?.update(finished(counts), { info: summary(counts ?? last) });
      bars.stop();
    },
  };
}
