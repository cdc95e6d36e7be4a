// The checkpoint directory as Lightning's ModelCheckpoint keeps it: `last.ckpt`, the k best by the
// monitored metric, and `index.json` with the ranking so a resumed run continues it.
import { copyFile, mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { temporaryPathFor, writeFileAtomic } from "@trainkit/data";
import { type Checkpoint, type TrainingState, writeCheckpoint } from "./checkpoint-file.ts";
import { LoopError } from "./errors.ts";
import type { MonitorMode } from "./monitor.ts";

export interface CheckpointManagerOptions {
  /** The checkpoint directory (`<run>/checkpoints`); created when missing. */
  readonly dir: string;
  /** The resolved monitored metric name (see `resolveMonitor`). */
  readonly monitor: string;
  readonly mode: MonitorMode;
  /** `checkpointSaveTopK`: -1 keeps every epoch, 0 keeps none but `last.ckpt`, k keeps the k best. */
  readonly saveTopK: number;
  /** `enableCheckpointing`: when false, `save` writes nothing. Default true. */
  readonly enabled?: boolean;
}

/** One ranked checkpoint. */
export interface CheckpointEntry {
  /** File name inside the checkpoint directory. */
  readonly file: string;
  readonly epoch: number;
  readonly step: number;
  /** The monitored value; null when it was not finite (ranks last). */
  readonly metric: number | null;
}

/** The training state at the end of `epoch`, and the epoch's metrics. */
export interface CheckpointSaveInput extends TrainingState {
  /** The epoch's metrics; must contain the monitored one unless `saveTopK` is 0 or `unranked`. */
  readonly metrics: Readonly<Record<string, number>>;
  /**
   * An epoch that did not compute the monitored metric (validation every n epochs): only
   * `last.ckpt` is written, the ranking stays as it is.
   */
  readonly unranked?: boolean;
}

export interface CheckpointSaveResult {
  /** Path of `last.ckpt`, or null when checkpointing is disabled. */
  readonly last: string | null;
  /** Path of the ranked file written for this epoch, or null when it did not make the top k. */
  readonly ranked: string | null;
  /** Paths deleted because they fell out of the top k. */
  readonly deleted: readonly string[];
}

export interface CheckpointManager {
  readonly dir: string;
  /** Problems found in a previous run's index (missing files, a changed monitor); never thrown. */
  readonly warnings: readonly string[];
  /** The ranked checkpoints, best first. */
  readonly best: readonly CheckpointEntry[];
  /** Path of the best checkpoint, or null. */
  readonly bestPath: string | null;
  /** Path of `last.ckpt` once written (or found from a previous run), else null. */
  readonly lastPath: string | null;
  save(input: CheckpointSaveInput): Promise<CheckpointSaveResult>;
}

/** The ranking index kept next to the checkpoints so a resumed run knows its best k. */
export const CHECKPOINT_INDEX = "index.json";
export const LAST_CHECKPOINT = "last.ckpt";

interface CheckpointIndex {
  readonly format: 1;
  readonly monitor: string;
  readonly mode: MonitorMode;
  readonly saveTopK: number;
  readonly entries: readonly CheckpointEntry[];
  readonly last: { readonly epoch: number; readonly step: number } | null;
}

/** Lightning-style file name: `epoch=03-val_loss=0.1234.ckpt` (unsafe characters become `_`). */
export function checkpointFileName(epoch: number, monitor: string, metric: number | null): string {
  const safe = monitor.replace(/[^A-Za-z0-9_.-]/g, "_");
  const value = metric === null ? "nan" : metric.toFixed(4);
  return `epoch=${String(epoch).padStart(2, "0")}-${safe}=${value}.ckpt`;
}

/** Whether `a` ranks strictly before `b` (null, i.e. not finite, ranks last). */
function ranksBefore(a: number | null, b: number | null, mode: MonitorMode): boolean {
  if (a === null) return false;
  if (b === null) return true;
  return mode === "min" ? a < b : a > b;
}

/** The same bytes under another name, atomically (a temporary copy, then a rename). */
async function copyAtomic(from: string, to: string): Promise<void> {
  const temporary = temporaryPathFor(to);
  try {
    await copyFile(from, temporary);
    await rename(temporary, to);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * A checkpoint directory as Lightning's `ModelCheckpoint(save_last=True, save_top_k=k)` keeps it:
 * `last.ckpt` after every epoch, plus the top k by the monitored metric (ties keep the older one),
 * files that fall out of the top k deleted, every write atomic, and `index.json` recording the
 * ranking so a resumed run continues it. An index written for another monitor or mode is not
 * used for ranking (its files stay; a warning says so).
 */
export async function createCheckpointManager(options: CheckpointManagerOptions): Promise<CheckpointManager> {
  const { dir, monitor, mode, saveTopK } = options;
  const enabled = options.enabled ?? true;
  if (!Number.isInteger(saveTopK) || saveTopK < -1) {
    throw new LoopError("INVALID_OPTION", `checkpointSaveTopK: must be an integer >= -1, got ${saveTopK}.`);
  }
  const warnings: string[] = [];
  let entries: CheckpointEntry[] = [];
  let last: { epoch: number; step: number } | null = null;
  const indexPath = join(dir, CHECKPOINT_INDEX);

  if (enabled && (await exists(indexPath))) {
    let index: CheckpointIndex;
    try {
      index = JSON.parse(await readFile(indexPath, "utf8")) as CheckpointIndex;
    } catch (cause) {
      throw new LoopError(
        "BAD_CHECKPOINT",
        `checkpoint index ${indexPath}: not valid JSON; delete it to start a fresh ranking.`,
        { file: indexPath, cause },
      );
    }
    if (index?.format !== 1 || !Array.isArray(index.entries)) {
      throw new LoopError(
        "BAD_CHECKPOINT",
        `checkpoint index ${indexPath}: unsupported format; delete it to start a fresh ranking.`,
        { file: indexPath },
      );
    }
    if (index.monitor !== monitor || index.mode !== mode) {
      warnings.push(
        `checkpoints in ${dir} were ranked by ${index.monitor} (${index.mode}), now by ${monitor} (${mode}); the earlier files are kept but no longer ranked.`,
      );
    } else {
      for (const entry of index.entries) {
        if (await exists(join(dir, entry.file))) entries.push(entry);
        else warnings.push(`checkpoint ${entry.file} is listed in ${CHECKPOINT_INDEX} but missing; dropped.`);
      }
    }
    if (index.last !== null && (await exists(join(dir, LAST_CHECKPOINT)))) last = index.last;
  }
  let chain: Promise<unknown> = Promise.resolve();

  const writeIndex = async (): Promise<void> => {
    const index: CheckpointIndex = { format: 1, monitor, mode, saveTopK, entries, last };
    await writeFileAtomic(indexPath, `${JSON.stringify(index, null, 2)}\n`);
  };

  const saveNow = async (input: CheckpointSaveInput): Promise<CheckpointSaveResult> => {
    if (!enabled) return { last: null, ranked: null, deleted: [] };
    const { unranked = false, ...state } = input;
    const { epoch, step, metrics } = state;
    const ranking = saveTopK !== 0 && !unranked;
    const raw = metrics[monitor];
    if (ranking && raw === undefined) {
      throw new LoopError(
        "MISSING_METRIC",
        `checkpointMonitor "${monitor}" was not among the metrics of epoch ${epoch} (${Object.keys(metrics).sort().join(", ") || "none"}); log it or choose one of those.`,
      );
    }
    const metric = raw !== undefined && Number.isFinite(raw) ? raw : null;
    const checkpoint: Checkpoint = {
      ...state,
      monitor: raw === undefined ? null : monitor,
      metric,
      metrics: Object.fromEntries(
        Object.entries(metrics).map(([k, v]) => [k, Number.isFinite(v) ? v : null]),
      ),
      wallTime: Date.now() / 1000,
    };
    await mkdir(dir, { recursive: true });
    const lastFile = join(dir, LAST_CHECKPOINT);
    await writeCheckpoint(lastFile, checkpoint);

    let ranked: string | null = null;
    const deleted: string[] = [];
    if (ranking) {
      const file = checkpointFileName(epoch, monitor, metric);
      // A re-saved epoch (after a resume) replaces its earlier entry.
      const kept = entries.filter((e) => e.file !== file);
      const entry: CheckpointEntry = { file, epoch, step, metric };
      const worst = kept.at(-1);
      const enters =
        saveTopK === -1 || kept.length < saveTopK || ranksBefore(metric, worst?.metric ?? null, mode);
      if (enters) {
        let at = kept.findIndex((e) => ranksBefore(metric, e.metric, mode));
        if (at === -1) at = kept.length;
        kept.splice(at, 0, entry);
        ranked = join(dir, file);
        await copyAtomic(lastFile, ranked);
      }
      const evicted = saveTopK === -1 ? [] : kept.splice(saveTopK);
      entries = kept;
      for (const e of evicted) deleted.push(join(dir, e.file));
    }
    last = { epoch, step };
    // Index first, deletions after: a crash in between leaves an unlisted file, never a dangling entry.
    await writeIndex();
    for (const path of deleted) await rm(path, { force: true });
    return { last: lastFile, ranked, deleted };
  };

  return {
    dir,
    warnings,
    get best() {
      return entries.slice();
    },
    get bestPath() {
      const first = entries[0];
      return first === undefined ? null : join(dir, first.file);
    },
    get lastPath() {
      return last === null ? null : join(dir, LAST_CHECKPOINT);
    },
    save(input) {
      const next = chain.then(() => saveNow(input));
      chain = next.catch(() => undefined);
      return next;
    },
  };
}
