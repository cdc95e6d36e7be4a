// Creating output folders safely: never Node's recursive mkdir, which spins forever at 100% CPU
// under /proc (each level fails with ENOENT and is retried). Shared by the launcher (run
// directories) and trainkit-datagen (--out). Problems come back in words; callers wrap them in
// their own coded error.
import { constants } from "node:fs";
import { access, mkdir, stat, statfs } from "node:fs/promises";
import { dirname, resolve } from "node:path";

/** Why a folder cannot be used or created, in words, with the error behind it. */
export interface DirectoryProblem {
  readonly why: string;
  readonly cause?: unknown;
}

// Kernel file systems where nothing can be created (statfs f_type): proc, sysfs, cgroup, cgroup2,
// debugfs, securityfs, configfs.
const PSEUDO_FILE_SYSTEMS = new Set([
  0x9fa0, 0x62656572, 0x27e0eb, 0x63677270, 0x64626720, 0x73636673, 0x62656570,
]);

/** A file-system error in words (`ENOTDIR`: "a part of the path is a file, not a directory"). */
export function errnoReason(error: unknown): string {
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

/**
 * Whether `dir` could be created, without creating anything: its nearest existing ancestor must be
 * a writable directory on a real file system. Undefined when it could.
 */
export async function directoryProblem(dir: string): Promise<DirectoryProblem | undefined> {
  let at = resolve(dir);
  for (;;) {
    let info: Awaited<ReturnType<typeof stat>> | undefined;
    try {
      info = await stat(at);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT")
        return { why: errnoReason(error), cause: error };
    }
    if (info) {
      if (!info.isDirectory()) return { why: `${at} is a file, not a directory` };
      const fs = await statfs(at).catch(() => undefined);
      if (fs && PSEUDO_FILE_SYSTEMS.has(Number(fs.type)))
        return { why: `${at} is on a kernel file system (such as /proc) where nothing can be created` };
      try {
        await access(at, constants.W_OK);
      } catch (error) {
        return { why: `${at} is not writable`, cause: error };
      }
      return undefined;
    }
    const parent = dirname(at);
    if (parent === at) return undefined;
    at = parent;
  }
}

/** Creates `dir` and its missing parents one level at a time; the problem when one cannot be made. */
export async function makeDirectory(dir: string): Promise<DirectoryProblem | undefined> {
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
      return { why: errnoReason(error), cause: error };
    }
  }
  return undefined;
}
