// Reading config sources safely: only regular files (a FIFO or /dev/zero would block or read
// forever), at most MAX_SOURCE_BYTES, and JSON no deeper than MAX_JSON_DEPTH (a 10 KB file of
// `[[[[...` would otherwise overflow the stack of whatever walks it).
import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { jsonDepth, MAX_JSON_DEPTH } from "@trainkit/data";
import { FactoryError } from "./errors.ts";

/** The largest config file, legacy params file or run payload read: 16 MiB. */
export const MAX_SOURCE_BYTES = 16 * 1024 * 1024;

function reason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code ?? e.message ?? String(error);
}

/** The text of a source file; `what` names it in messages ("Config file", "Legacy params file"). */
export async function readSourceText(path: string, what: string): Promise<string> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT")
      throw new FactoryError("SOURCE_NOT_FOUND", `${what} ${path} does not exist.`, { cause: error });
    throw new FactoryError("SOURCE_UNREADABLE", `${what} ${path} cannot be read (${reason(error)}).`, {
      cause: error,
    });
  }
  try {
    const info = await handle.stat();
    if (info.isDirectory())
      throw new FactoryError("SOURCE_UNREADABLE", `${what} ${path} is a directory, not a file.`);
    if (!info.isFile()) {
      throw new FactoryError(
        "SOURCE_UNREADABLE",
        `${what} ${path} is not a regular file (a device, FIFO or socket); give the path of a file.`,
      );
    }
    if (info.size > MAX_SOURCE_BYTES) {
      throw new FactoryError(
        "SOURCE_TOO_LARGE",
        `${what} ${path} is ${info.size} bytes, over the ${MAX_SOURCE_BYTES / 1024 / 1024} MiB limit for config sources.`,
      );
    }
    // Read at most one byte past the limit: a file that grows while read is still capped.
    const buffer = Buffer.alloc(Math.min(info.size, MAX_SOURCE_BYTES) + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > MAX_SOURCE_BYTES)
      throw new FactoryError(
        "SOURCE_TOO_LARGE",
        `${what} ${path} grew past the ${MAX_SOURCE_BYTES} byte limit.`,
      );
    return buffer.subarray(0, length).toString("utf8");
  } catch (error) {
    if (error instanceof FactoryError) throw error;
    throw new FactoryError("SOURCE_UNREADABLE", `${what} ${path} cannot be read (${reason(error)}).`, {
      cause: error,
    });
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** JSON.parse with a nesting bound; a bad text is `SOURCE_MALFORMED` naming `what` and `path`. */
export function parseSourceJson(text: string, what: string, path: string): unknown {
  const depth = jsonDepth(text);
  if (depth > MAX_JSON_DEPTH) {
    throw new FactoryError(
      "SOURCE_MALFORMED",
      `${what} ${path} nests ${depth} levels deep, over the limit of ${MAX_JSON_DEPTH}; it is not a trainkit file.`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new FactoryError(
      "SOURCE_MALFORMED",
      `${what} ${path} is not valid JSON (${(error as Error).message}).`,
      {
        cause: error,
      },
    );
  }
}
