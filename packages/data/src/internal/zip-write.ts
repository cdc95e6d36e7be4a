// Writes a zip archive atomically (a temporary file in the target's folder, renamed over the target
// only when complete) or into memory; both go through `writeArchive`, so they give the same bytes. fflate deflates (its output is up to 1.9x smaller than zlib's at the same level
// on overlapping patches, as its matches reach the full 32 KiB window: docs/decisions.md, issue 17);
// the container is written here so that huge members get zip64 records (fflate's zip writer has none)
// and stored members are written without being copied.

import { type FileHandle, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { crc32 } from "node:zlib";
import { deflateSync } from "fflate";
import { temporaryPathFor } from "../atomic.ts";
import { DataError } from "../errors.ts";

export interface ZipSource {
  readonly name: string;
  /** Produces the member's bytes when it is written (one member in memory at a time). */
  readonly content: () => readonly Uint8Array[];
}

export interface ZipWriteOptions {
  readonly compress: boolean;
  /** Write zip64 records even for small archives (numpy reads both; used to test the zip64 path). */
  readonly forceZip64?: boolean;
}

const LIMIT32 = 0xffffffff;
const LIMIT16 = 0xffff;
const DOS_DATE_1980_01_01 = 0x21; // fixed timestamp: the same arrays always give the same bytes
const UNIX_FILE_0644 = (0o100644 << 16) >>> 0;

interface Written {
  readonly nameBytes: Uint8Array;
  readonly utf8: boolean;
  readonly method: number;
  readonly crc: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly offset: number;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Where `writeArchive` puts the bytes, in order; `offset` counts what was written so far. */
interface Sink {
  readonly offset: number;
  write(bytes: Uint8Array): Promise<void>;
}

class FileSink implements Sink {
  offset = 0;
  readonly handle: FileHandle;

  constructor(handle: FileHandle) {
    this.handle = handle;
  }

  async write(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const length = Math.min(bytes.length - done, 1 << 30);
      const { bytesWritten } = await this.handle.write(bytes, done, length);
      done += bytesWritten;
    }
    this.offset += bytes.length;
  }
}

/** Keeps the parts (stored members' data as the caller's views) and joins them once at the end. */
class MemorySink implements Sink {
  offset = 0;
  readonly parts: Uint8Array[] = [];

  async write(bytes: Uint8Array): Promise<void> {
    this.parts.push(bytes);
    this.offset += bytes.length;
  }
}

function localHeader(w: Written, zip64: boolean): Uint8Array {
  const extra = zip64 ? 20 : 0;
  const out = new Uint8Array(30 + w.nameBytes.length + extra);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0x04034b50, true);
  v.setUint16(4, zip64 ? 45 : 20, true);
  v.setUint16(6, w.utf8 ? 0x800 : 0, true);
  v.setUint16(8, w.method, true);
  v.setUint16(10, 0, true);
  v.setUint16(12, DOS_DATE_1980_01_01, true);
  v.setUint32(14, w.crc, true);
  v.setUint32(18, zip64 ? LIMIT32 : w.compressedSize, true);
  v.setUint32(22, zip64 ? LIMIT32 : w.uncompressedSize, true);
  v.setUint16(26, w.nameBytes.length, true);
  v.setUint16(28, extra, true);
  out.set(w.nameBytes, 30);
  if (zip64) {
    const e = 30 + w.nameBytes.length;
    v.setUint16(e, 0x0001, true);
    v.setUint16(e + 2, 16, true);
    v.setBigUint64(e + 4, BigInt(w.uncompressedSize), true);
    v.setBigUint64(e + 12, BigInt(w.compressedSize), true);
  }
  return out;
}

function centralHeader(w: Written, force: boolean): Uint8Array {
  const big = [w.uncompressedSize, w.compressedSize, w.offset].map((n) => force || n >= LIMIT32);
  const fields = big.filter(Boolean).length;
  const zip64 = fields > 0;
  const extra = zip64 ? 4 + 8 * fields : 0;
  const out = new Uint8Array(46 + w.nameBytes.length + extra);
  const v = new DataView(out.buffer);
  const version = zip64 ? 45 : 20;
  v.setUint32(0, 0x02014b50, true);
  v.setUint16(4, (3 << 8) | version, true); // made by: Unix
  v.setUint16(6, version, true);
  v.setUint16(8, w.utf8 ? 0x800 : 0, true);
  v.setUint16(10, w.method, true);
  v.setUint16(12, 0, true);
  v.setUint16(14, DOS_DATE_1980_01_01, true);
  v.setUint32(16, w.crc, true);
  v.setUint32(20, big[1] ? LIMIT32 : w.compressedSize, true);
  v.setUint32(24, big[0] ? LIMIT32 : w.uncompressedSize, true);
  v.setUint16(28, w.nameBytes.length, true);
  v.setUint16(30, extra, true);
  v.setUint32(38, UNIX_FILE_0644, true);
  v.setUint32(42, big[2] ? LIMIT32 : w.offset, true);
  out.set(w.nameBytes, 46);
  if (zip64) {
    let e = 46 + w.nameBytes.length;
    v.setUint16(e, 0x0001, true);
    v.setUint16(e + 2, 8 * fields, true);
    e += 4;
    for (const [i, value] of [w.uncompressedSize, w.compressedSize, w.offset].entries()) {
      if (!big[i]) continue;
      v.setBigUint64(e, BigInt(value), true);
      e += 8;
    }
  }
  return out;
}

function endRecords(
  count: number,
  directoryOffset: number,
  directorySize: number,
  force: boolean,
): Uint8Array {
  const zip64 = force || count >= LIMIT16 || directoryOffset >= LIMIT32 || directorySize >= LIMIT32;
  const out = new Uint8Array((zip64 ? 56 + 20 : 0) + 22);
  const v = new DataView(out.buffer);
  let p = 0;
  if (zip64) {
    v.setUint32(0, 0x06064b50, true);
    v.setBigUint64(4, 44n, true);
    v.setUint16(12, (3 << 8) | 45, true);
    v.setUint16(14, 45, true);
    v.setBigUint64(24, BigInt(count), true);
    v.setBigUint64(32, BigInt(count), true);
    v.setBigUint64(40, BigInt(directorySize), true);
    v.setBigUint64(48, BigInt(directoryOffset), true);
    v.setUint32(56, 0x07064b50, true);
    v.setBigUint64(64, BigInt(directoryOffset + directorySize), true);
    v.setUint32(72, 1, true);
    p = 76;
  }
  v.setUint32(p, 0x06054b50, true);
  v.setUint16(p + 8, Math.min(count, LIMIT16), true);
  v.setUint16(p + 10, Math.min(count, LIMIT16), true);
  v.setUint32(p + 12, Math.min(directorySize, LIMIT32), true);
  v.setUint32(p + 16, Math.min(directoryOffset, LIMIT32), true);
  return out;
}

async function writeArchive(
  sink: Sink,
  sources: readonly ZipSource[],
  options: ZipWriteOptions,
): Promise<void> {
  const force = options.forceZip64 === true;
  const written: Written[] = [];
  const encoder = new TextEncoder();
  for (const source of sources) {
    const parts = source.content();
    let crc = 0;
    let uncompressedSize = 0;
    for (const p of parts) {
      // Node's crc32 returns 0 for a view over an empty ArrayBuffer, ignoring the running value.
      if (p.length > 0) crc = crc32(p, crc);
      uncompressedSize += p.length;
    }
    const body = options.compress ? [deflateSync(concat(parts), { level: 6 })] : parts;
    let compressedSize = 0;
    for (const p of body) compressedSize += p.length;
    const w: Written = {
      nameBytes: encoder.encode(source.name),
      // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII range check
      utf8: /[^\x00-\x7f]/.test(source.name),
      method: options.compress ? 8 : 0,
      crc: crc >>> 0,
      compressedSize,
      uncompressedSize,
      offset: sink.offset,
    };
    const zip64 = force || uncompressedSize >= LIMIT32 || compressedSize >= LIMIT32;
    await sink.write(localHeader(w, zip64));
    for (const p of body) await sink.write(p);
    written.push(w);
  }
  const directoryOffset = sink.offset;
  for (const w of written) await sink.write(centralHeader(w, force));
  await sink.write(endRecords(written.length, directoryOffset, sink.offset - directoryOffset, force));
}

/**
 * Writes the archive to `file` atomically: into a temporary file next to it, then renamed over it.
 * On any failure the temporary file is removed and `file` is left as it was.
 */
export async function writeZipAtomic(
  file: string,
  sources: readonly ZipSource[],
  options: ZipWriteOptions,
): Promise<void> {
  const temp = temporaryPathFor(file);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, "wx");
    await writeArchive(new FileSink(handle), sources, options);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, file);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
    if (error instanceof DataError) throw error;
    const code = (error as { code?: unknown }).code;
    const reason = typeof code === "string" ? code : error instanceof Error ? error.message : String(error);
    throw new DataError(
      "WRITE_FAILED",
      `${file}: could not write the file (${reason}); check that the folder ${dirname(file)} exists and is writable. Nothing was written.`,
      { file, cause: error },
    );
  }
}

/** The bytes `writeZipAtomic` would write, in a fresh buffer (nothing touches the disk). */
export async function writeZipBytes(
  sources: readonly ZipSource[],
  options: ZipWriteOptions,
): Promise<Uint8Array> {
  const sink = new MemorySink();
  await writeArchive(sink, sources, options);
  const out = concat(sink.parts);
  // `concat` returns a lone part as it is; a lone part may be a caller's view, so copy it.
  return sink.parts.length === 1 ? new Uint8Array(out) : out;
}
