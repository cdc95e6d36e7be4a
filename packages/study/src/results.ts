import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { type RunManifest, readManifest, writeJsonAtomic } from "@trainkit/launcher";
import { StudyError } from "./errors.ts";
import { foldJournal, journalPath, readJournal } from "./journal.ts";
import type { AxisValue, JobMetrics, JobStatus, ResultRow, Step } from "./types.ts";

export const MANIFEST_FILE = "study-manifest.json";

/** One job as the study manifest records it. */
export interface StudyManifestJob {
  readonly index: number;
  readonly key: string;
  readonly label: string;
  readonly dir: string;
  readonly variation: string;
  readonly name: string | null;
  readonly axes: Readonly<Record<string, AxisValue>>;
  readonly repeat: number | null;
  readonly fold: number | null;
  readonly payloadSha256: string;
  readonly steps: readonly Step[];
  readonly status: JobStatus;
  readonly exitCode: number | null;
  readonly attempts: number;
  readonly durationSeconds: number | null;
  readonly dropped?: readonly unknown[];
}

/** `study-manifest.json`: what the study is, how it was asked for, and each job's outcome. */
export interface StudyManifest {
  readonly format: "trainkit-study-manifest/1";
  readonly study: string;
  readonly specFile: string;
  readonly specSha256: string;
  readonly executor: string;
  readonly argv: readonly string[];
  readonly where: readonly string[];
  readonly only: readonly string[];
  /** Paths set by global options on the study's command line. */
  readonly globalOptions: readonly string[];
  /** Directory the jobs run in (relative paths in payloads are relative to it). */
  readonly cwd: string;
  readonly report: { readonly metric: keyof JobMetrics; readonly mode: "max" | "min" };
  /** Axis names in spec order. */
  readonly axes: readonly string[];
  /** The executor's settings (the spec's `slurm:` section with the flags over it). */
  readonly executorSettings?: Readonly<Record<string, unknown>>;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly jobs: readonly StudyManifestJob[];
}

export async function readStudyManifest(studyDir: string): Promise<StudyManifest | undefined> {
  let text: string;
  try {
    text = await readFile(join(studyDir, MANIFEST_FILE), "utf8");
  } catch {
    return undefined;
  }
  try {
    const m = JSON.parse(text) as StudyManifest;
    if (m.format !== "trainkit-study-manifest/1") throw new Error("format");
    return m;
  } catch (error) {
    throw new StudyError(
      "NOT_A_STUDY",
      `${join(studyDir, MANIFEST_FILE)} is not a trainkit study manifest.`,
      { cause: error },
    );
  }
}

export async function writeStudyManifest(studyDir: string, manifest: StudyManifest): Promise<void> {
  await writeJsonAtomic(join(studyDir, MANIFEST_FILE), manifest);
}

/** A job without any metric (nothing recorded yet, or a failed run). */
export const NO_METRICS: JobMetrics = {
  trainLoss: null,
  valLoss: null,
  amplitudePsnr: null,
  amplitudeSsim: null,
  phasePsnr: null,
  phaseSsim: null,
};

const finite = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** The last row of the newest `lightning_logs/version_<n>/metrics.csv` in a run directory. */
async function lastCsvMetrics(dir: string): Promise<Record<string, number>> {
  const logs = join(dir, "lightning_logs");
  const versions = (await readdir(logs).catch(() => [] as string[]))
    .map((v) => /^version_(\d+)$/.exec(v))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(b[1]) - Number(a[1]));
  for (const v of versions) {
    const text = await readFile(join(logs, v[0], "metrics.csv"), "utf8").catch(() => "");
    const lines = text.trim().split("\n");
    if (lines.length < 2) continue;
    const head = (lines[0] ?? "").split(",");
    const out: Record<string, number> = {};
    // Later rows win; a metric missing from the last row keeps its last value.
    for (const line of lines.slice(1)) {
      line.split(",").forEach((cell, i) => {
        const n = Number(cell);
        if (cell !== "" && Number.isFinite(n)) out[head[i] ?? ""] = n;
      });
    }
    return out;
  }
  return {};
}

/** What a job's run directory says: its manifest(s), metrics and duration. */
export async function readJobOutcome(
  dir: string,
  steps: readonly Step[],
): Promise<{
  train?: RunManifest;
  infer?: RunManifest;
  metrics: JobMetrics;
  durationSeconds: number | null;
}> {
  const train = await readManifest(dir);
  const infer = steps.includes("infer") ? await readManifest(join(dir, "infer")) : undefined;
  const last = (train?.details as { lastMetrics?: Record<string, unknown> } | undefined)?.lastMetrics ?? {};
  const csv = train ? await lastCsvMetrics(dir) : {};
  const quality = infer?.details ?? {};
  const metrics: JobMetrics = {
    ...NO_METRICS,
    trainLoss: finite(last.train_loss) ?? finite(csv.train_loss),
    valLoss: finite(last.val_loss) ?? finite(csv.val_loss),
    amplitudePsnr: finite(quality.amplitudePsnr),
    amplitudeSsim: finite(quality.amplitudeSsim),
    phasePsnr: finite(quality.phasePsnr),
    phaseSsim: finite(quality.phaseSsim),
  };
  const span = (m: RunManifest | undefined) =>
    m?.endedAt ? (Date.parse(m.endedAt) - Date.parse(m.startedAt)) / 1000 : null;
  const durations = [span(train), span(infer)].filter((d): d is number => d !== null);
  return {
    ...(train ? { train } : {}),
    ...(infer ? { infer } : {}),
    metrics,
    durationSeconds: durations.length > 0 ? durations.reduce((a, b) => a + b, 0) : null,
  };
}

/**
 * A job's final state: its own run directory's manifests are the most trusted source; the journal
 * (the executor's word) comes second. A journal that says succeeded where the run directory does
 * not is `suspect`.
 */
export function finalStatus(
  journal: JobStatus | undefined,
  outcome: { train?: RunManifest; infer?: RunManifest },
  payloadSha256: string,
  steps: readonly Step[],
): JobStatus {
  const trained = outcome.train?.status === "succeeded" && outcome.train.payloadSha256 === payloadSha256;
  const inferred = !steps.includes("infer") || outcome.infer?.status === "succeeded";
  const runDirSays: JobStatus | undefined = trained && inferred ? "succeeded" : undefined;
  if (journal === "succeeded") return runDirSays ?? "suspect";
  if (journal === undefined || journal === "pending") {
    if (runDirSays) return "succeeded";
    const m = outcome.infer ?? outcome.train;
    if (m?.status === "failed") return "failed";
    if (m?.status === "interrupted" || m?.status === "running") return "interrupted";
    return "pending";
  }
  return journal;
}

/** Every job's result row, from the study manifest, the journal and the run directories. */
export async function collectResults(
  studyDir: string,
): Promise<{ manifest: StudyManifest; rows: ResultRow[] }> {
  const manifest = await readStudyManifest(studyDir);
  if (!manifest) {
    throw new StudyError(
      "NOT_A_STUDY",
      `${studyDir} holds no ${MANIFEST_FILE}; is it a study's output directory?`,
    );
  }
  const journal = foldJournal(readJournal(journalPath(studyDir)) ?? []);
  const rows = await Promise.all(
    manifest.jobs.map(async (job): Promise<ResultRow> => {
      const outcome = await readJobOutcome(job.dir, job.steps);
      const state = journal.get(job.index);
      return {
        index: job.index,
        label: job.label,
        variation: job.variation,
        name: job.name,
        axes: job.axes,
        repeat: job.repeat,
        fold: job.fold,
        status: finalStatus(state?.status, outcome, job.payloadSha256, job.steps),
        attempts: state?.attempts ?? job.attempts,
        exitCode: state?.exitCode ?? outcome.train?.exitCode ?? null,
        durationSeconds: outcome.durationSeconds,
        metrics: outcome.metrics,
        runDir: job.dir,
        payloadSha256: job.payloadSha256,
      };
    }),
  );
  return { manifest, rows };
}
