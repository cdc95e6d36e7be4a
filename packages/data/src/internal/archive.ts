// The `.npz` layer over the zip reader: members named `<key>.npy`, their headers, their arrays.

import { DataError, isDataError } from "../errors.ts";
import type { NdArray } from "../ndarray.ts";
import { formatKeys } from "./format.ts";
import {
  checkClaimedSize,
  checkDataSize,
  decodeNpyData,
  type NpyHeader,
  npyHeaderLength,
  parseNpyHeader,
} from "./npy-format.ts";
import {
  closeZip,
  type OpenZipOptions,
  openZip,
  openZipBytes,
  readMember,
  readMemberPrefix,
  verifyMember,
  type ZipArchive,
  type ZipEntry,
} from "./zip-read.ts";

export interface NpzArchive {
  readonly zip: ZipArchive;
  /** Members by key (the name without `.npy`), in archive order. */
  readonly members: ReadonlyMap<string, ZipEntry>;
}

/** Opens `file`, runs `fn`, and always closes the file. */
export async function withNpz<T>(
  file: string,
  fn: (npz: NpzArchive) => Promise<T>,
  options: OpenZipOptions = {},
): Promise<T> {
  return withArchive(await openZip(file, options), fn);
}

/** `withNpz` on an `.npz` held in memory; `what` names it in messages. */
export async function withNpzBytes<T>(
  bytes: Uint8Array,
  what: string,
  fn: (npz: NpzArchive) => Promise<T>,
): Promise<T> {
  return withArchive(await openZipBytes(bytes, what), fn);
}

async function withArchive<T>(zip: ZipArchive, fn: (npz: NpzArchive) => Promise<T>): Promise<T> {
  const file = zip.file;
  try {
    const members = new Map<string, ZipEntry>();
    for (const entry of zip.entries) {
      // numpy only writes `<key>.npy`; folders and other members are not arrays.
      if (!entry.name.endsWith(".npy")) continue;
      const key = entry.name.slice(0, -".npy".length);
      if (members.has(key)) {
        throw new DataError(
          "CORRUPT_ZIP",
          `${file}: the archive holds two members named ${entry.name}; re-create the file with numpy.savez.`,
          { file, key },
        );
      }
      members.set(key, entry);
    }
    return await fn({ zip, members });
  } finally {
    await closeZip(zip).catch(() => undefined);
  }
}

/** The entries for `keys` (all members when `keys` is undefined); a missing key is MISSING_KEY. */
export function selectMembers(
  npz: NpzArchive,
  keys: readonly string[] | undefined,
): readonly (readonly [string, ZipEntry])[] {
  if (keys === undefined) return [...npz.members];
  return [...new Set(keys)].map((key) => {
    const entry = npz.members.get(key);
    if (!entry) throw missingKey(npz, key);
    return [key, entry] as const;
  });
}

export function missingKey(npz: NpzArchive, key: string, purpose = ""): DataError {
  const file = npz.zip.file;
  const near = [...npz.members.keys()].find((k) => k.toLowerCase() === key.toLowerCase());
  const hint = near === undefined ? "" : ` Did you mean "${near}"?`;
  return new DataError(
    "MISSING_KEY",
    `${file}: no array named "${key}"${purpose}; the file has: ${formatKeys(npz.members.keys())}.${hint}`,
    { file, key },
  );
}

const FIRST_READ = 4096;

/**
 * Reads and parses one member's `.npy` header, reading only the start of the member, and checks
 * that the shape it claims matches the member's size (SIZE_MISMATCH otherwise).
 */
export async function readHeader(npz: NpzArchive, key: string, entry: ZipEntry): Promise<NpyHeader> {
  try {
    return await readHeaderUnchecked(npz, key, entry);
  } catch (error) {
    // A damaged member also shows up as a bad header: blame the damage when the CRC says so.
    if (isDataError(error, "BAD_HEADER") || isDataError(error, "SIZE_MISMATCH")) {
      await verifyMember(npz.zip, entry, key);
    }
    throw error;
  }
}

async function readHeaderUnchecked(npz: NpzArchive, key: string, entry: ZipEntry): Promise<NpyHeader> {
  const ctx = { file: npz.zip.file, key };
  let prefix = await readMemberPrefix(npz.zip, entry, key, FIRST_READ);
  const length = npyHeaderLength(prefix, ctx);
  if (length === undefined || length > entry.uncompressedSize) {
    throw new DataError(
      "BAD_HEADER",
      `${npz.zip.file}: ${key}: the member is ${entry.uncompressedSize} bytes, too short for its .npy header; the file is corrupt. Re-create it with numpy.savez.`,
      ctx,
    );
  }
  if (length > prefix.length) prefix = await readMemberPrefix(npz.zip, entry, key, length);
  const header = parseNpyHeader(prefix, ctx);
  checkClaimedSize(header, entry.uncompressedSize - header.headerLength, ctx);
  return header;
}

/** Loads one array: header checks first, so nothing is allocated from an unchecked header. */
export async function loadMember(
  npz: NpzArchive,
  key: string,
  entry: ZipEntry,
  header: NpyHeader,
  maxBytes: number | undefined,
): Promise<NdArray> {
  const ctx = { file: npz.zip.file, key };
  checkDataSize(header, entry.uncompressedSize - header.headerLength, ctx, maxBytes);
  const bytes = await readMember(npz.zip, entry, key);
  return decodeNpyData(header, bytes.subarray(header.headerLength), ctx);
}
