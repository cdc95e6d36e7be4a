import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { LoopError } from "./errors.ts";

/** The metric loggers the engine writes itself (`mlflow` needs a tracking client: not here). */
export type LoggerKind = "csv" | "tensorboard" | "none";
export const ENGINE_LOGGERS: readonly LoggerKind[] = ["csv", "tensorboard", "none"];

/** A metrics logger. Calls are synchronous: each `log` is on disk when it returns. */
export interface MetricsLogger {
  readonly kind: LoggerKind;
  /** The version directory (`<dir>/lightning_logs/version_<n>`), or null for `none`. */
  readonly versionDir: string | null;
  /** One row / event: the metrics plus `epoch` and `step`. */
  log(metrics: Readonly<Record<string, number>>, step: number, epoch: number): void;
  /** Flushes and closes; later `log` calls throw. Idempotent. */
  close(): void;
}

/**
 * A logger in Lightning's layout under `dir` (the run directory):
 * - `csv`: `lightning_logs/version_<n>/metrics.csv` and `hparams.yaml`, as `CSVLogger`;
 * - `tensorboard`: `lightning_logs/version_<n>/events.out.tfevents.<unix seconds>.<hostname>` and
 *   `hparams.yaml`, as `TensorBoardLogger`;
 * - `none`: nothing.
 * `<n>` is one more than the highest existing `version_<n>` (0 for the first run).
 */
export function createLogger(
  kind: LoggerKind,
  dir: string,
  hparams: Readonly<Record<string, unknown>> = {},
): MetricsLogger {
  if (kind === "none") return noneLogger();
  if (kind !== "csv" && kind !== "tensorboard") {
    throw new LoopError(
      "INVALID_OPTION",
      `logger: the embedded engine writes "csv", "tensorboard" or "none", got ${JSON.stringify(kind)}.`,
    );
  }
  const versionDir = nextVersionDir(join(dir, "lightning_logs"));
  mkdirSync(versionDir, { recursive: true });
  writeAtomicSync(join(versionDir, "hparams.yaml"), toYaml(hparams));
  return kind === "csv" ? csvLogger(versionDir) : tensorboardLogger(versionDir);
}

function noneLogger(): MetricsLogger {
  return { kind: "none", versionDir: null, log() {}, close() {} };
}

/** `<root>/version_<max + 1>` (Lightning `_get_next_version`). */
export function nextVersionDir(root: string): string {
  let max = -1;
  try {
    for (const entry of readdirSync(root, { withFileTypes: true })) {
      const m = /^version_(\d+)$/.exec(entry.name);
      if (entry.isDirectory() && m !== null) max = Math.max(max, Number(m[1]));
    }
  } catch {
    // no root yet
  }
  return join(root, `version_${max + 1}`);
}

function writeAtomicSync(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

function checkLogArgs(step: number, epoch: number): void {
  if (!Number.isSafeInteger(step) || step < 0) {
    throw new LoopError("INVALID_OPTION", `logger.log: step must be a non-negative integer, got ${step}.`);
  }
  if (!Number.isSafeInteger(epoch) || epoch < 0) {
    throw new LoopError("INVALID_OPTION", `logger.log: epoch must be a non-negative integer, got ${epoch}.`);
  }
}

function closedError(kind: LoggerKind): LoopError {
  return new LoopError("INVALID_OPTION", `logger (${kind}): log() after close().`);
}

// ---------------------------------------------------------------------------------------------
// CSV

/** A number as Python's `str(float)` writes it where it matters (nan, inf). */
function csvNumber(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (value === Number.POSITIVE_INFINITY) return "inf";
  if (value === Number.NEGATIVE_INFINITY) return "-inf";
  return String(value);
}

function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * Lightning's CSV `ExperimentWriter`: the columns are every key seen, sorted; a row leaves unknown
 * cells empty; when a new key appears the whole file is rewritten with the new header.
 */
function csvLogger(versionDir: string): MetricsLogger {
  const file = join(versionDir, "metrics.csv");
  let columns: string[] = [];
  const rows: Record<string, string>[] = [];
  let closed = false;
  const line = (row: Record<string, string>): string =>
    `${columns.map((c) => csvField(row[c] ?? "")).join(",")}\n`;
  return {
    kind: "csv",
    versionDir,
    log(metrics, step, epoch) {
      if (closed) throw closedError("csv");
      checkLogArgs(step, epoch);
      const row: Record<string, string> = {};
      for (const [k, v] of Object.entries(metrics)) row[k] = csvNumber(v);
      row.epoch = String(epoch);
      row.step = String(step);
      rows.push(row);
      const fresh = Object.keys(row).filter((k) => !columns.includes(k));
      if (fresh.length > 0) {
        columns = [...columns, ...fresh].sort();
        const header = `${columns.map(csvField).join(",")}\n`;
        writeAtomicSync(file, header + rows.map(line).join(""));
      } else {
        const fd = openSync(file, "a");
        try {
          writeSync(fd, line(row));
        } finally {
          closeSync(fd);
        }
      }
    },
    close() {
      closed = true;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// TensorBoard event files

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli), as TFRecord uses. */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC32C_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15 and add 0xa282ead8. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: uint64 length, masked CRC of the length, data, masked CRC of the data (little-endian). */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length + 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/** Minimal protobuf writer for the few `tensorflow.Event` fields we need. */
class ProtoWriter {
  readonly #bytes: number[] = [];

  varint(value: number): this {
    let v = value;
    while (v >= 0x80) {
      this.#bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.#bytes.push(v);
    return this;
  }

  tag(field: number, wireType: 0 | 1 | 2 | 5): this {
    return this.varint(field * 8 + wireType);
  }

  double(field: number, value: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, value, true);
    this.tag(field, 1).#bytes.push(...b);
    return this;
  }

  float(field: number, value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.tag(field, 5).#bytes.push(...b);
    return this;
  }

  int(field: number, value: number): this {
    return this.tag(field, 0).varint(value);
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2)
      .varint(value.length)
      .#bytes.push(...value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }
}

/**
 * A serialised `tensorflow.Event` (event.proto): `wall_time` (1, double), `step` (2, int64),
 * and either `file_version` (3, string) or `summary` (5) holding `Summary.Value`s (1) with
 * `tag` (1, string) and `simple_value` (2, float).
 */
export function encodeEvent(
  event:
    | { readonly wallTime: number; readonly step: number; readonly fileVersion: string }
    | {
        readonly wallTime: number;
        readonly step: number;
        readonly scalars: Readonly<Record<string, number>>;
      },
): Uint8Array {
  const w = new ProtoWriter().double(1, event.wallTime).int(2, event.step);
  if ("fileVersion" in event) return w.string(3, event.fileVersion).finish();
  const summary = new ProtoWriter();
  for (const [tag, value] of Object.entries(event.scalars)) {
    summary.bytes(1, new ProtoWriter().string(1, tag).float(2, value).finish());
  }
  return w.bytes(5, summary.finish()).finish();
}

function tensorboardLogger(versionDir: string): MetricsLogger {
  const now = Date.now() / 1000;
  const file = join(versionDir, `events.out.tfevents.${Math.floor(now)}.${hostname()}`);
  const fd = openSync(file, "a");
  writeSync(fd, tfRecord(encodeEvent({ wallTime: now, step: 0, fileVersion: "brain.Event:2" })));
  let closed = false;
  return {
    kind: "tensorboard",
    versionDir,
    log(metrics, step, epoch) {
      if (closed) throw closedError("tensorboard");
      checkLogArgs(step, epoch);
      const scalars = { ...metrics, epoch };
      writeSync(fd, tfRecord(encodeEvent({ wallTime: Date.now() / 1000, step, scalars })));
    },
    close() {
      if (closed) return;
      closed = true;
      fsyncSync(fd);
      closeSync(fd);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// hparams.yaml

const YAML_RESERVED = /^(?:true|false|yes|no|on|off|null|~)$/i;

function yamlString(text: string): string {
  const plain = /^[A-Za-z_][A-Za-z0-9_./-]*(?: [A-Za-z0-9_./-]+)*$/.test(text) && !YAML_RESERVED.test(text);
  return plain ? text : JSON.stringify(text);
}

/** A number PyYAML (YAML 1.1) reads back as the same number: floats keep a dot before the exponent. */
function yamlNumber(value: number): string {
  if (Number.isNaN(value)) return ".nan";
  if (value === Number.POSITIVE_INFINITY) return ".inf";
  if (value === Number.NEGATIVE_INFINITY) return "-.inf";
  const s = String(value);
  const e = s.indexOf("e");
  if (e === -1) return s;
  const mantissa = s.slice(0, e);
  const exponent = s.slice(e + 1); // JavaScript always writes the sign: "e-7", "e+21"
  return `${mantissa.includes(".") ? mantissa : `${mantissa}.0`}e${exponent}`;
}

function yamlScalar(value: unknown): string | null {
  if (value === null) return "null";
  if (typeof value === "boolean") return String(value);
  if (typeof value === "number") return yamlNumber(value);
  if (typeof value === "bigint") return String(value);
  if (typeof value === "string") return yamlString(value);
  return null;
}

function yamlBlock(value: unknown, indent: string): string[] {
  if (Array.isArray(value)) {
    return value.flatMap((item) => {
      const scalar = yamlScalar(item ?? null);
      if (scalar !== null) return [`${indent}- ${scalar}`];
      if (isEmpty(item)) return [`${indent}- ${Array.isArray(item) ? "[]" : "{}"}`];
      const inner = yamlBlock(item, `${indent}  `);
      return [`${indent}- ${inner[0]!.trimStart()}`, ...inner.slice(1)];
    });
  }
  const lines: string[] = [];
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (item === undefined || typeof item === "function" || typeof item === "symbol") continue;
    const k = yamlString(key);
    const scalar = yamlScalar(item);
    if (scalar !== null) lines.push(`${indent}${k}: ${scalar}`);
    else if (isEmpty(item)) lines.push(`${indent}${k}: ${Array.isArray(item) ? "[]" : "{}"}`);
    else lines.push(`${indent}${k}:`, ...yamlBlock(item, Array.isArray(item) ? indent : `${indent}  `));
  }
  return lines;
}

function isEmpty(value: unknown): boolean {
  return Array.isArray(value)
    ? value.length === 0
    : typeof value === "object" && value !== null && Object.keys(value).length === 0;
}

/** Block-style YAML of a JSON-like object (as PyYAML's `safe_dump` lays it out); `{}` when empty. */
export function toYaml(value: Readonly<Record<string, unknown>>): string {
  const lines = yamlBlock(value, "");
  return lines.length === 0 ? "{}\n" : `${lines.join("\n")}\n`;
}
