// Reads zip archives the way an `.npz` reader needs: the central directory first, then only the
// bytes of the members asked for (random access, and only a member's first bytes for its header).
// The bytes come from a file handle or from memory (`ByteSource`): every check is the same for both.
// Node's zlib inflates. Why our own container code and not a zip library: docs/decisions.md, issue 17.

import { constants, type Stats } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { crc32, createInflateRaw, inflateRawSync, constants as zlibConstants } from "node:zlib";
import { DataError } from "../errors.ts";
import { formatBytes } from "./format.ts";

export interface ZipEntry {
  /** The member name, e.g. `probeGuess.npy`. */
  readonly name: string;
  readonly method: number;
  readonly flags: number;
  readonly crc: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly localHeaderOffset: number;
}

/**
 * Where an archive's bytes come from: an open file (a `FileHandle` fits as it is) or bytes in memory
 * (`bytesSource`). `read` is positional and may return fewer bytes than asked (0 at the end).
 */
export interface ByteSource {
  read(
    target: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ readonly bytesRead: number }>;
  close(): Promise<void>;
}

/** A source over bytes in memory; reads copy out of `bytes`, which is never modified. */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    read: async (target, offset, length, position) => {
      const bytesRead = Math.max(0, Math.min(length, bytes.length - position));
      target.set(bytes.subarray(position, position + bytesRead), offset);
      return { bytesRead };
    },
    close: async () => undefined,
  };
}

export interface ZipArchive {
  /** Names the archive in messages: the path as the caller gave it, or the caller's `what` for bytes. */
  readonly file: string;
  readonly size: number;
  readonly entries: readonly ZipEntry[];
  /** Offset of the central directory: member data must end before it. */
  readonly directoryOffset: number;
  readonly source: ByteSource;
}

export interface OpenZipOptions {
  /**
   * Read the whole file with one read and serve every later read from memory, when it is at most
   * this many bytes (for readers that read every member anyway: one read instead of several per
   * member). Default: read only what is asked for.
   */
  readonly wholeUpTo?: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
const READ_CHUNK = 1 << 30;

const METHOD_NAMES: Readonly<Record<number, string>> = {
  1: "shrink",
  6: "implode",
  9: "deflate64",
  12: "bzip2",
  14: "lzma",
  93: "zstandard",
  95: "xz",
};

function corrupt(file: string, detail: string, key?: string, cause?: unknown): DataError {
  return new DataError(
    "CORRUPT_ZIP",
    `${file}: the zip archive is damaged (${detail}); re-create or re-download the file.`,
    { file, key, cause },
  );
}

function ioError(file: string, error: unknown, doing: string): DataError {
  const code = (error as { code?: unknown }).code;
  if (code === "ENOENT") {
    const resolved = isAbsolute(file) ? "" : ` (looked for ${resolve(file)})`;
    return new DataError("FILE_NOT_FOUND", `${file}: file not found${resolved}; check the path.`, {
      file,
      cause: error,
    });
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new DataError(
    "READ_FAILED",
    `${file}: could not ${doing} (${reason}); check that it is a readable file.`,
    {
      file,
      cause: error,
    },
  );
}

/** Reads exactly `target.length` bytes at `position`, or throws TRUNCATED. */
async function readExact(
  archive: Pick<ZipArchive, "file" | "source">,
  target: Uint8Array,
  position: number,
  key?: string,
): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const length = Math.min(target.length - done, READ_CHUNK);
    let bytesRead: number;
    try {
      ({ bytesRead } = await archive.source.read(target, done, length, position + done));
    } catch (error) {
      throw ioError(archive.file, error, "read it");
    }
    if (bytesRead === 0) {
      throw new DataError(
        "TRUNCATED",
        `${archive.file}: the file ends at byte ${position + done}, before ${key === undefined ? "the zip data" : `the data of ${key}`} is complete; it is truncated (an interrupted write or download). Re-create or re-download it.`,
        { file: archive.file, key },
      );
    }
    done += bytesRead;
  }
}

function u64(view: DataView, offset: number, file: string): number {
  const value = view.getBigUint64(offset, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER))
    throw corrupt(file, "a zip64 size or offset is impossibly large");
  return Number(value);
}

function notAZip(file: string, head: Uint8Array, size: number): DataError {
  const startsWith = (bytes: readonly number[]): boolean => bytes.every((b, i) => head[i] === b);
  if (size > 0 && startsWith([0x50, 0x4b, 0x03, 0x04])) {
    return new DataError(
      "TRUNCATED",
      `${file}: the file starts like a zip archive but its end (the zip directory) is missing; it is truncated (an interrupted write or download). Re-create or re-download it.`,
      { file },
    );
  }
  const hint = startsWith([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59])
    ? "it is a single-array .npy file; save it with numpy.savez to get an .npz"
    : size === 0
      ? "the file is empty"
      : "an .npz is a zip archive written by numpy.savez or numpy.savez_compressed";
  return new DataError("NOT_A_ZIP", `${file}: not an .npz file (no zip archive found; ${hint}).`, { file });
}

interface EndRecord {
  readonly entryCount: number;
  readonly directorySize: number;
  readonly directoryOffset: number;
  /** Where the end records start: the directory must end at or before this. */
  readonly endStart: number;
}

async function readEndRecord(archive: Pick<ZipArchive, "file" | "source">, size: number): Promise<EndRecord> {
  const { file } = archive;
  const tailLength = Math.min(size, EOCD_SIZE + MAX_COMMENT);
  const tail = new Uint8Array(tailLength);
  await readExact(archive, tail, size - tailLength);
  const view = new DataView(tail.buffer);
  let at = -1;
  for (let i = tailLength - EOCD_SIZE; i >= 0; i--) {
    if (view.getUint32(i, true) === SIG_EOCD && i + EOCD_SIZE + view.getUint16(i + 20, true) <= tailLength) {
      at = i;
      break;
    }
  }
  if (at < 0) {
    const head = new Uint8Array(Math.min(size, 8));
    await readExact(archive, head, 0);
    throw notAZip(file, head, size);
  }
  const eocdStart = size - tailLength + at;
  const disk = view.getUint16(at + 4, true);
  const directoryDisk = view.getUint16(at + 6, true);
  let entryCount = view.getUint16(at + 10, true);
  let directorySize = view.getUint32(at + 12, true);
  let directoryOffset = view.getUint32(at + 16, true);
  let endStart = eocdStart;
  const locatorAt = at - 20;
  let hasZip64 = false;
  if (locatorAt >= 0 && view.getUint32(locatorAt, true) === SIG_ZIP64_LOCATOR) {
    hasZip64 = true;
    const recordOffset = u64(view, locatorAt + 8, file);
    if (recordOffset + 56 > eocdStart - 20) throw corrupt(file, "the zip64 end record points past the end");
    const record = new Uint8Array(56);
    await readExact(archive, record, recordOffset);
    const rv = new DataView(record.buffer);
    if (rv.getUint32(0, true) !== SIG_ZIP64_EOCD) throw corrupt(file, "bad zip64 end record signature");
    if (rv.getUint32(16, true) !== 0 || rv.getUint32(20, true) !== 0) {
      throw new DataError(
        "UNSUPPORTED_ZIP",
        `${file}: multi-disk (split) zip archives are not supported; join the parts into one file.`,
        { file },
      );
    }
    entryCount = u64(rv, 32, file);
    directorySize = u64(rv, 40, file);
    directoryOffset = u64(rv, 48, file);
    endStart = recordOffset;
  } else if (entryCount === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
    throw corrupt(file, "the end record needs a zip64 record that is missing");
  }
  if (!hasZip64 && (disk !== 0 || directoryDisk !== 0)) {
    throw new DataError(
      "UNSUPPORTED_ZIP",
      `${file}: multi-disk (split) zip archives are not supported; join the parts into one file.`,
      { file },
    );
  }
  if (directoryOffset + directorySize > endStart) {
    throw corrupt(file, "the central directory runs past the end records");
  }
  if (entryCount * 46 > directorySize)
    throw corrupt(file, "the central directory is too small for its entry count");
  return { entryCount, directorySize, directoryOffset, endStart };
}

function decodeName(bytes: Uint8Array, utf8: boolean): string {
  return new TextDecoder(utf8 ? "utf-8" : "latin1").decode(bytes);
}

function parseDirectory(file: string, directory: Uint8Array, count: number): ZipEntry[] {
  const view = new DataView(directory.buffer, directory.byteOffset, directory.byteLength);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let n = 0; n < count; n++) {
    if (p + 46 > directory.length || view.getUint32(p, true) !== SIG_CENTRAL) {
      throw corrupt(file, `central directory entry ${n + 1} has a bad signature`);
    }
    const flags = view.getUint16(p + 8, true);
    const method = view.getUint16(p + 10, true);
    const crc = view.getUint32(p + 16, true);
    let compressedSize = view.getUint32(p + 20, true);
    let uncompressedSize = view.getUint32(p + 24, true);
    const nameLength = view.getUint16(p + 28, true);
    const extraLength = view.getUint16(p + 30, true);
    const commentLength = view.getUint16(p + 32, true);
    let localHeaderOffset = view.getUint32(p + 42, true);
    const end = p + 46 + nameLength + extraLength + commentLength;
    if (end > directory.length)
      throw corrupt(file, `central directory entry ${n + 1} runs past the directory`);
    const name = decodeName(directory.subarray(p + 46, p + 46 + nameLength), (flags & 0x800) !== 0);
    // zip64 extra field: only the fields saturated in the fixed record are present, in this order.
    let e = p + 46 + nameLength;
    const extraEnd = e + extraLength;
    while (e + 4 <= extraEnd) {
      const id = view.getUint16(e, true);
      const size = view.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        const take = (): number => {
          if (q + 8 > e + 4 + size) throw corrupt(file, `the zip64 field of ${name} is too short`);
          const value = u64(view, q, file);
          q += 8;
          return value;
        };
        if (uncompressedSize === 0xffffffff) uncompressedSize = take();
        if (compressedSize === 0xffffffff) compressedSize = take();
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = take();
      }
      e += 4 + size;
    }
    if (
      uncompressedSize === 0xffffffff ||
      compressedSize === 0xffffffff ||
      localHeaderOffset === 0xffffffff
    ) {
      throw corrupt(file, `${name} needs a zip64 field that is missing`);
    }
    entries.push({ name, method, flags, crc, compressedSize, uncompressedSize, localHeaderOffset });
    p = end;
  }
  return entries;
}

/** NOT_A_FILE for a device, FIFO, socket or anything else that is not a regular file. */
export function notRegularFile(file: string, info: Stats, what = "an .npz file"): DataError {
  const kind = info.isFIFO()
    ? "a FIFO (named pipe)"
    : info.isCharacterDevice() || info.isBlockDevice()
      ? "a device"
      : info.isSocket()
        ? "a socket"
        : "not a regular file";
  return new DataError(
    "NOT_A_FILE",
    `${file}: is ${kind}, not ${what}; trainkit reads only regular files (it would block or read forever).`,
    { file },
  );
}

/** Opens an archive and reads its central directory. Close it with `closeZip`. */
export async function openZip(file: string, options: OpenZipOptions = {}): Promise<ZipArchive> {
  let handle: FileHandle;
  try {
    // Non-blocking, so that opening a FIFO returns at once (and is refused below) instead of hanging.
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw ioError(file, error, "open it");
  }
  try {
    let size: number;
    try {
      const stat = await handle.stat();
      if (stat.isDirectory()) {
        throw new DataError(
          "READ_FAILED",
          `${file}: is a directory, not an .npz file; pass the path of the file.`,
          { file },
        );
      }
      if (!stat.isFile()) throw notRegularFile(file, stat);
      size = stat.size;
    } catch (error) {
      if (error instanceof DataError) throw error;
      throw ioError(file, error, "stat it");
    }
    if (options.wholeUpTo === undefined || size > options.wholeUpTo)
      return await readDirectory(file, handle, size);
    const bytes = new Uint8Array(size);
    await readExact({ file, source: handle }, bytes, 0);
    await handle.close();
    return await readDirectory(file, bytesSource(bytes), size);
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
}

/** Opens an archive held in memory; `what` names it in messages (as `file` does for `openZip`). */
export async function openZipBytes(bytes: Uint8Array, what: string): Promise<ZipArchive> {
  return readDirectory(what, bytesSource(bytes), bytes.length);
}

async function readDirectory(file: string, source: ByteSource, size: number): Promise<ZipArchive> {
  const end = await readEndRecord({ file, source }, size);
  const directory = new Uint8Array(end.directorySize);
  await readExact({ file, source }, directory, end.directoryOffset);
  const entries = parseDirectory(file, directory, end.entryCount);
  return { file, size, entries, directoryOffset: end.directoryOffset, source };
}

export async function closeZip(archive: ZipArchive): Promise<void> {
  await archive.source.close();
}

/** Checks a member can be read (method, encryption) and returns where its data starts. */
async function memberDataStart(archive: ZipArchive, entry: ZipEntry, key: string): Promise<number> {
  const { file } = archive;
  if ((entry.flags & 0x1) !== 0) {
    throw new DataError(
      "UNSUPPORTED_ZIP",
      `${file}: ${key} is encrypted, which is not supported; save the file without a password.`,
      {
        file,
        key,
      },
    );
  }
  if (entry.method !== 0 && entry.method !== 8) {
    const method = METHOD_NAMES[entry.method] ?? `method ${entry.method}`;
    throw new DataError(
      "UNSUPPORTED_ZIP",
      `${file}: ${key} is compressed with ${method}; only stored and deflate members are supported (what numpy.savez and numpy.savez_compressed write). Re-save the file with numpy.`,
      { file, key },
    );
  }
  const local = new Uint8Array(30);
  if (entry.localHeaderOffset + 30 > archive.directoryOffset) {
    throw corrupt(file, `the local header of ${key} is outside the archive`, key);
  }
  await readExact(archive, local, entry.localHeaderOffset, key);
  const view = new DataView(local.buffer);
  if (view.getUint32(0, true) !== SIG_LOCAL)
    throw corrupt(file, `the local header of ${key} has a bad signature`, key);
  const start = entry.localHeaderOffset + 30 + view.getUint16(26, true) + view.getUint16(28, true);
  if (start + entry.compressedSize > archive.directoryOffset) {
    throw corrupt(file, `the data of ${key} runs past the end of the member area`, key);
  }
  if (entry.method === 0 && entry.compressedSize !== entry.uncompressedSize) {
    throw corrupt(file, `${key} is stored uncompressed but its two sizes differ`, key);
  }
  return start;
}

/**
 * The first `length` uncompressed bytes of a member (fewer if the member is shorter), reading and
 * inflating only as much as needed.
 */
export async function readMemberPrefix(
  archive: ZipArchive,
  entry: ZipEntry,
  key: string,
  length: number,
): Promise<Uint8Array> {
  const start = await memberDataStart(archive, entry, key);
  const want = Math.min(length, entry.uncompressedSize);
  if (entry.method === 0) {
    const out = new Uint8Array(want);
    await readExact(archive, out, start, key);
    return out;
  }
  // Inflate a growing prefix of the compressed data, flushing what it holds (no error for a cut
  // stream): each step reads 4x more, so the work stays a small multiple of what is needed, and the
  // output of one step is bounded (deflate expands at most 1032:1).
  for (let take = Math.min(1024, entry.compressedSize); ; take = Math.min(take * 4, entry.compressedSize)) {
    const compressed = new Uint8Array(take);
    await readExact(archive, compressed, start, key);
    let out: Uint8Array;
    try {
      out = inflateRawSync(compressed, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch (error) {
      throw corrupt(archive.file, `the compressed data of ${key} is invalid`, key, error);
    }
    if (out.length >= want || take === entry.compressedSize) {
      return new Uint8Array(out.buffer, out.byteOffset, Math.min(want, out.length)).slice();
    }
  }
}

/**
 * A whole member, in a fresh buffer that starts at offset 0, CRC-checked. The caller has already
 * checked `entry.uncompressedSize` against its limits: nothing larger is ever allocated.
 */
export async function readMember(archive: ZipArchive, entry: ZipEntry, key: string): Promise<Uint8Array> {
  const { file } = archive;
  const start = await memberDataStart(archive, entry, key);
  const size = entry.uncompressedSize;
  let out: Uint8Array;
  if (entry.method === 0) {
    out = new Uint8Array(size);
    await readExact(archive, out, start, key);
  } else {
    // Deflate expands incompressible data by 5 bytes per 64 KiB block; anything bigger is a lie.
    const bound = size + Math.ceil(size / 16384) * 5 + 1024;
    if (entry.compressedSize > bound) {
      throw corrupt(
        file,
        `${key} claims ${entry.compressedSize} compressed bytes for only ${size} bytes of data`,
        key,
      );
    }
    const compressed = new Uint8Array(entry.compressedSize);
    await readExact(archive, compressed, start, key);
    // One spare byte tells "more data than the directory says" apart from "exactly right".
    let inflated: Uint8Array;
    try {
      inflated = inflateRawSync(compressed, { maxOutputLength: size + 1 });
    } catch (error) {
      // Past maxOutputLength: it inflates to more than the directory says (a deflate bomb or a lie).
      if ((error as { code?: unknown }).code !== "ERR_BUFFER_TOO_LARGE")
        throw corrupt(file, `the compressed data of ${key} is invalid or cut short`, key, error);
      inflated = new Uint8Array(size + 1);
    }
    if (inflated.length !== size) {
      throw corrupt(
        file,
        `${key} inflates to ${inflated.length > size ? `more than ${size}` : inflated.length} bytes but the directory says ${formatBytes(size)} (${size} bytes)`,
        key,
      );
    }
    // zlib's result is its own allocation; copy only if it is a view into a larger (pooled) one.
    out =
      inflated.byteOffset === 0 && inflated.buffer.byteLength === size
        ? new Uint8Array(inflated.buffer, 0, size)
        : new Uint8Array(inflated);
  }
  if (crc32(out) >>> 0 !== entry.crc >>> 0) {
    throw corrupt(file, `the CRC-32 checksum of ${key} does not match its data`, key);
  }
  return out;
}

/**
 * Streams a whole member through inflate and CRC-32 without keeping it, and throws CORRUPT_ZIP if
 * it is damaged. Used to tell a damaged member from a well-formed member with a bad header.
 */
export async function verifyMember(archive: ZipArchive, entry: ZipEntry, key: string): Promise<void> {
  const start = await memberDataStart(archive, entry, key);
  let crc = 0;
  let size = 0;
  const take = (chunk: Uint8Array): void => {
    if (chunk.length === 0) return;
    crc = crc32(chunk, crc);
    size += chunk.length;
  };
  const step = 1 << 20;
  async function* compressed(): AsyncGenerator<Uint8Array> {
    for (let offset = 0; offset < entry.compressedSize; offset += step) {
      const chunk = new Uint8Array(Math.min(step, entry.compressedSize - offset));
      await readExact(archive, chunk, start + offset, key);
      yield chunk;
    }
  }
  if (entry.method === 0) {
    for await (const chunk of compressed()) take(chunk);
  } else {
    const tooLong = new Error("more data than the directory says");
    try {
      await pipeline(
        compressed(),
        createInflateRaw(),
        new Writable({
          write(chunk: Uint8Array, _encoding, done) {
            take(chunk);
            done(size > entry.uncompressedSize ? tooLong : null);
          },
        }),
      );
    } catch (error) {
      if (error instanceof DataError) throw error;
      if (error !== tooLong)
        throw corrupt(archive.file, `the compressed data of ${key} is invalid or cut short`, key, error);
    }
  }
  if (size !== entry.uncompressedSize) {
    throw corrupt(
      archive.file,
      `${key} holds ${size} bytes but the directory says ${entry.uncompressedSize}`,
      key,
    );
  }
  if (crc >>> 0 !== entry.crc >>> 0) {
    throw corrupt(archive.file, `the CRC-32 checksum of ${key} does not match its data`, key);
  }
}
