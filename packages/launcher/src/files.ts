import { constants } from "node:fs";
import { access, mkdir, readdir, stat, statfs } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { writeFileAtomic } from "@trainkit/data";
import { LaunchError } from "./errors.ts";

export { writeFileAtomic };

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Longest run directory path accepted (Linux's PATH_MAX is 4096, with room for the files in it). */
export const MAX_RUN_DIR_LENGTH = 3800;

// Kernel file systems where nothing can be created (statfs f_type): proc, sysfs, cgroup, cgroup2,
// debugfs, securityfs, configfs. Node's recursive mkdir spins forever under /proc.
const PSEUDO_FILE_SYSTEMS = new Set([
  0x9fa0, 0x62656572, 0x27e0eb, 0x63677270, 0x64626720, 0x73636673, 0x62656570,
]);

function unwritable(dir: string, why: string, cause?: unknown): LaunchError {
  return new LaunchError(
    "RUN_DIR_UNWRITABLE",
    `The run directory ${dir} cannot be used: ${why}. Choose another --output-dir.`,
    cause === undefined ? {} : { cause },
  );
}

function errnoReason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  switch (e.code) {
    case "ENOTDIR":
      return "a part of the path is a file, not a directory";
    case "ENAMETOOLONG":
      return "the path (or one of its names) is too long";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EROFS":
      return "the file system is read-only";
    default:
      return e.code ?? e.message;
  }
}

/** The entries of a directory, or undefined when it does not exist. Anything else is RUN_DIR_UNWRITABLE. */
export async function listDirectory(dir: string): Promise<string[] | undefined> {
  if (dir.length > MAX_RUN_DIR_LENGTH)
    throw unwritable(
      `${dir.slice(0, 60)}...`,
      `the path is ${dir.length} characters long, over ${MAX_RUN_DIR_LENGTH}`,
    );
  try {
    return await readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "ENOTDIR") {
      const info = await stat(dir).catch(() => undefined);
      if (info && !info.isDirectory()) throw unwritable(dir, "it is a file, not a directory", error);
    }
    throw unwritable(dir, errnoReason(error), error);
  }
}

/**
 * Checks, without creating anything, that `dir` could be created: its nearest existing ancestor is
 * a writable directory on a real file system.
 */
export async function checkCreatable(dir: string): Promise<void> {
  let at = resolve(dir);
  for (;;) {
    const info = await stat(at).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw unwritable(dir, errnoReason(error), error);
    });
    if (info) {
      if (!info.isDirectory()) throw unwritable(dir, `${at} is a file, not a directory`);
      const fs = await statfs(at).catch(() => undefined);
      if (fs && PSEUDO_FILE_SYSTEMS.has(Number(fs.type)))
        throw unwritable(
          dir,
          `${at} is on a kernel file system (such as /proc) where nothing can be created`,
        );
      await access(at, constants.W_OK).catch((error) => {
        throw unwritable(dir, `${at} is not writable`, error);
      });
      return;
    }
    const parent = dirname(at);
    if (parent === at) return;
    at = parent;
  }
}

/** Creates `dir` and its missing parents one level at a time (never spins on a failing mkdir). */
export async function ensureDirectory(dir: string): Promise<void> {
  const missing: string[] = [];
  let at = resolve(dir);
  while (!(await stat(at).catch(() => undefined))) {
    missing.unshift(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const path of missing) {
    try {
      await mkdir(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST" && (await stat(path)).isDirectory()) continue;
      throw unwritable(dir, errnoReason(error), error);
    }
  }
}
