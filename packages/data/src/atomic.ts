import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** A temporary path next to `path`, unique enough within one directory (no crypto needed). */
export function temporaryPathFor(path: string): string {
  return join(
    dirname(path),
    `.${basename(path)}.${process.pid.toString(36)}${Math.random().toString(36).slice(2, 10)}.tmp`,
  );
}

/**
 * Writes a file atomically: a temporary file in the same directory, then a rename over the target.
 * On failure the temporary file is removed, the target is left as it was, and the error is rethrown.
 */
export async function writeFileAtomic(path: string, content: string | Uint8Array): Promise<void> {
  const temporary = temporaryPathFor(path);
  try {
    const handle = await open(temporary, "w");
    try {
      await handle.writeFile(content);
      await handle.sync(); // on disk before the rename makes it visible
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
