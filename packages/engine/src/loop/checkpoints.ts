import { createHash } from "node:crypto";
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "@trainkit/data";
import { LoopError } from "./errors.ts";

/** Whether a lower or a higher monitored metric is better (`checkpointMode`). */
export type MonitorMode = "min" | "max";

// ---------------------------------------------------------------------------------------------
// Checkpoint files

/** The first 8 bytes of every trainkit checkpoint file. */
export const CHECKPOINT_MAGIC = "TKCKPT01";

/**
 * The JSON header of a checkpoint file. File layout: the 8 ASCII bytes `TKCKPT01`, the header
 * length as a little-endian uint32, the header (UTF-8 JSON), then the caller's payload bytes.
 */
export interface CheckpointHeader {
  readonly format: 1;
  /** The epoch (0-based, as Lightning) that ended when this was saved. */
  readonly epoch: number;
  /** Optimizer steps taken so far. */
  readonly step: number;
  /** The monitored metric's name, or null when none ranks checkpoints. */
  readonly monitor: string | null;
  /** Its value (null when not finite or not monitored). */
  readonly metric: number | null;
  /** Every metric of the epoch (non-finite values as null). */
  readonly metrics: Readonly<Record<string, number | null>>;
  /** Unix time in seconds when the checkpoint was written. */
  readonly wallTime: number;
  readonly payloadBytes: number;
  /** Hex SHA-256 of the payload, checked on read. */
  readonly payloadSha256: string;
}

export interface Checkpoint {
  readonly header: CheckpointHeader;
  readonly payload: Uint8Array;
}

/** The bytes of a checkpoint file. */
export function encodeCheckpoint(header: CheckpointHeader, payload: Uint8Array): Uint8Array {
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const out = new Uint8Array(8 + 4 + json.length + payload.length);
  out.set(Buffer.from(CHECKPOINT_MAGIC, "ascii"), 0);
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  out.set(payload, 12 + json.length);
  return out;
}

/** Parses checkpoint bytes; throws `BAD_CHECKPOINT` when they are not an intact trainkit checkpoint. */
export function decodeCheckpoint(bytes: Uint8Array, file?: string): Checkpoint {
  const where = file === undefined ? "checkpoint" : `checkpoint ${file}`;
  const bad: (why: string) => never = (why) => {
    throw new LoopError("BAD_CHECKPOINT", `${where}: ${why}`, { file });
  };
  if (bytes.length < 12 || Buffer.from(bytes.subarray(0, 8)).toString("ascii") !== CHECKPOINT_MAGIC) {
    bad(`not a trainkit checkpoint (it does not start with ${CHECKPOINT_MAGIC}).`);
  }
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  if (12 + length > bytes.length) bad("truncated header; the file was cut short.");
  let header: CheckpointHeader;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(12, 12 + length)).toString("utf8")) as CheckpointHeader;
  } catch (cause) {
    throw new LoopError("BAD_CHECKPOINT", `${where}: the header is not valid JSON.`, { file, cause });
  }
  if (header?.format !== 1) bad(`unsupported header format ${JSON.stringify(header?.format)}.`);
  const payload = bytes.slice(12 + length);
  if (payload.length !== header.payloadBytes) {
    bad(
      `payload is ${payload.length} bytes, the header says ${header.payloadBytes}; the file was cut short.`,
    );
  }
  if (sha256(payload) !== header.payloadSha256) bad("payload checksum mismatch; the file is damaged.");
  return { header, payload };
}

/** Reads and checks a checkpoint file. */
export async function readCheckpoint(path: string): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new LoopError("BAD_CHECKPOINT", `checkpoint ${path}: cannot be read.`, { file: path, cause });
  }
  return decodeCheckpoint(bytes, path);
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

// ---------------------------------------------------------------------------------------------
// Checkpoint manager

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

export interface CheckpointSaveInput {
  readonly epoch: number;
  readonly step: number;
  /** The epoch's metrics; must contain the monitored one unless `saveTopK` is 0. */
  readonly metrics: Readonly<Record<string, number>>;
  /** Opaque model/optimizer state. */
  readonly payload: Uint8Array;
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
    const { epoch, step, metrics, payload } = input;
    const ranking = saveTopK !== 0;
    const raw = metrics[monitor];
    if (ranking && raw === undefined) {
      throw new LoopError(
        "MISSING_METRIC",
        `checkpointMonitor "${monitor}" was not among the metrics of epoch ${epoch} (${Object.keys(metrics).sort().join(", ") || "none"}); log it or choose one of those.`,
      );
    }
    const metric = raw !== undefined && Number.isFinite(raw) ? raw : null;
    const header: CheckpointHeader = {
      format: 1,
      epoch,
      step,
      monitor: raw === undefined ? null : monitor,
      metric,
      metrics: Object.fromEntries(
        Object.entries(metrics).map(([k, v]) => [k, Number.isFinite(v) ? v : null]),
      ),
      wallTime: Date.now() / 1000,
      payloadBytes: payload.length,
      payloadSha256: sha256(payload),
    };
    const bytes = encodeCheckpoint(header, payload);
    await mkdir(dir, { recursive: true });

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
        await writeFileAtomic(join(dir, file), bytes);
        ranked = join(dir, file);
      }
      const evicted = saveTopK === -1 ? [] : kept.splice(saveTopK);
      entries = kept;
      for (const e of evicted) deleted.push(join(dir, e.file));
    }
    await writeFileAtomic(join(dir, LAST_CHECKPOINT), bytes);
    last = { epoch, step };
    // Index first, deletions after: a crash in between leaves an unlisted file, never a dangling entry.
    await writeIndex();
    for (const path of deleted) await rm(path, { force: true });
    return { last: join(dir, LAST_CHECKPOINT), ranked, deleted };
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

// ---------------------------------------------------------------------------------------------
// Early stopping

export interface EarlyStoppingOptions {
  /** `earlyStopPatience`: epochs without improvement before stopping. */
  readonly patience: number;
  readonly mode: MonitorMode;
  /** Smallest change that counts as an improvement. Default 0 (any strict improvement). */
  readonly minDelta?: number;
}

export interface EarlyStoppingDecision {
  readonly stop: boolean;
  readonly improved: boolean;
  /** Why it stops, one sentence; null when it does not. */
  readonly reason: string | null;
}

export interface EarlyStoppingState {
  readonly best: number | null;
  readonly wait: number;
  readonly stoppedEpoch: number | null;
}

export interface EarlyStopping {
  /** Best metric so far (null before the first finite one). */
  readonly best: number | null;
  /** Epochs since the last improvement. */
  readonly wait: number;
  /** The epoch at which it decided to stop, or null. */
  readonly stoppedEpoch: number | null;
  /** Feeds the monitored metric at the end of `epoch`; returns whether to stop now. */
  update(metric: number, epoch: number): EarlyStoppingDecision;
  getState(): EarlyStoppingState;
  setState(state: EarlyStoppingState): void;
}

/**
 * Lightning's `EarlyStopping`: an epoch improves when its metric beats the best by more than
 * `minDelta`; otherwise the wait count grows, and training stops when it reaches `patience`.
 * A non-finite metric stops at once (Lightning's `check_finite`).
 */
export function createEarlyStopping(options: EarlyStoppingOptions): EarlyStopping {
  const { patience, mode } = options;
  const minDelta = Math.abs(options.minDelta ?? 0);
  if (!Number.isInteger(patience) || patience < 1) {
    throw new LoopError("INVALID_OPTION", `earlyStopPatience: must be a positive integer, got ${patience}.`);
  }
  let best: number | null = null;
  let wait = 0;
  let stoppedEpoch: number | null = null;
  return {
    get best() {
      return best;
    },
    get wait() {
      return wait;
    },
    get stoppedEpoch() {
      return stoppedEpoch;
    },
    update(metric, epoch) {
      if (!Number.isFinite(metric)) {
        stoppedEpoch = epoch;
        return {
          stop: true,
          improved: false,
          reason: `the monitored metric is ${metric} at epoch ${epoch}; stopping (a non-finite loss does not recover).`,
        };
      }
      const improved =
        best === null || (mode === "min" ? metric < best - minDelta : metric > best + minDelta);
      if (improved) {
        best = metric;
        wait = 0;
        return { stop: false, improved, reason: null };
      }
      wait += 1;
      if (wait >= patience) {
        stoppedEpoch = epoch;
        return {
          stop: true,
          improved,
          reason: `no improvement for ${wait} epochs (best ${best}); earlyStopPatience is ${patience}.`,
        };
      }
      return { stop: false, improved, reason: null };
    },
    getState() {
      return { best, wait, stoppedEpoch };
    },
    setState(state) {
      const ok =
        state !== null &&
        typeof state === "object" &&
        (state.best === null || Number.isFinite(state.best)) &&
        Number.isInteger(state.wait) &&
        state.wait >= 0 &&
        (state.stoppedEpoch === null || Number.isInteger(state.stoppedEpoch));
      if (!ok) {
        throw new LoopError(
          "INVALID_STATE",
          `early-stopping state: expected { best, wait, stoppedEpoch }, got ${JSON.stringify(state)}.`,
        );
      }
      best = state.best;
      wait = state.wait;
      stoppedEpoch = state.stoppedEpoch;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Monitor resolution

export interface MonitorContext {
  /** Whether the run has validation data. */
  readonly hasValidation: boolean;
  /** Every metric name the engine logs per epoch. */
  readonly metricNames: readonly string[];
}

export interface ResolvedMonitor {
  /** The metric name to rank checkpoints and stop on. */
  readonly name: string;
  /** A warning when the configured name was replaced (never printed here). */
  readonly warning: string | null;
}

/** `val_...` <-> `train_...` (`val_loss`, `poisson_val_loss`, `val_mae` ...). */
function toTraining(name: string): string | null {
  if (name.startsWith("val_")) return `train_${name.slice(4)}`;
  if (name.includes("_val_")) return name.replace("_val_", "_train_");
  if (name.endsWith("_val")) return `${name.slice(0, -4)}_train`;
  return null;
}

/**
 * Maps the configured `checkpointMonitor` to a metric the engine really logs, as upstream does
 * (reference 6.7):
 * - a name the engine logs is used as is (when it is a validation metric, only with validation data);
 * - `val_loss` with validation data is the engine's validation loss: `val_loss` itself, else the one
 *   logged name ending in `_val_loss` (upstream's `poisson_val_loss`);
 * - a validation name without validation data falls back to its training counterpart
 *   (`val_loss` -> `train_loss`) with a warning;
 * - anything else is an `UNKNOWN_MONITOR` error listing the available names.
 */
export function resolveMonitor(configured: string, context: MonitorContext): ResolvedMonitor {
  const names = new Set(context.metricNames);
  const available = [...names].sort().join(", ") || "none";
  const isValidation = toTraining(configured) !== null;
  if (context.hasValidation || !isValidation) {
    if (names.has(configured)) return { name: configured, warning: null };
    if (context.hasValidation && configured === "val_loss") {
      const candidates = [...names].filter((n) => n.endsWith("_val_loss")).sort();
      if (candidates.length === 1) return { name: candidates[0]!, warning: null };
    }
  } else {
    const training = toTraining(configured)!;
    let fallback: string | undefined = names.has(training) ? training : undefined;
    if (fallback === undefined && configured === "val_loss") {
      const candidates = [...names].filter((n) => n.endsWith("_train_loss")).sort();
      if (candidates.length === 1) fallback = candidates[0];
    }
    if (fallback !== undefined) {
      return {
        name: fallback,
        warning: `checkpointMonitor "${configured}" needs validation data, which this run has none of; monitoring "${fallback}" instead (pass validation data or set checkpointMonitor to silence this).`,
      };
    }
  }
  throw new LoopError(
    "UNKNOWN_MONITOR",
    `checkpointMonitor: "${configured}" is not a metric this run logs${isValidation && !context.hasValidation ? " (and there is no validation data)" : ""}; available: ${available}.`,
  );
}
