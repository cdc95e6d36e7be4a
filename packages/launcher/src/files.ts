import { readdir, stat } from "node:fs/promises";
import { directoryProblem, errnoReason, makeDirectory, writeFileAtomic } from "@trainkit/data";
import { LaunchError } from "./errors.ts";

export { writeFileAtomic };

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Longest run directory path accepted (Linux's PATH_MAX is 4096, with room for the files in it). */
export const MAX_RUN_DIR_LENGTH = 3800;

function unwritable(dir: string, why: string, cause?: unknown): LaunchError {
  return new LaunchError(
    "RUN_DIR_UNWRITABLE",
    `The run directory ${dir} cannot be used: ${why}. Choose another --output-dir.`,
    cause === undefined ? {} : { cause },
  );
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
  const problem = await directoryProblem(dir);
  if (problem) throw unwritable(dir, problem.why, problem.cause);
}

/** Creates `dir` and its missing parents one level at a time (never spins on a failing mkdir). */
export async function ensureDirectory(dir: string): Promise<void> {
  const problem = await makeDirectory(dir);
  if (problem) throw unwritable(dir, problem.why, problem.cause);
}
