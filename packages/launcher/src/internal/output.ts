// What an external program prints, streamed with bounded memory: each pipe is paused while its
// text is written to the log (so a fast program waits for the disk instead of filling memory), logs
// rotate at a fixed size, and text is cut at line ends so that secrets are scrubbed from whole lines.

import { type FileHandle, open, rename } from "node:fs/promises";
import type { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";

/** Bytes a program log (`logs/stdout.log`, `logs/stderr.log`) holds before it is rotated. */
export const LOG_ROTATE_BYTES = 64 * 2 ** 20;

/** The longest text held back waiting for a line end before it is echoed anyway. */
const ECHO_LINE_BYTES = 64 * 1024;

/**
 * A log file that rotates: past `limit` bytes it is renamed to `<path>.1` (replacing the one
 * before) and a new one is started, so a log never takes more than twice `limit` on disk and always
 * keeps the latest output.
 */
export class RotatingLog {
  private handle: Promise<FileHandle>;
  private size = 0;
  /** How many times the log was rotated. */
  rotations = 0;
  /** The first write error (e.g. ENOSPC); nothing more is written after it. */
  error: Error | undefined;

  readonly path: string;
  readonly limit: number;

  constructor(path: string, limit: number = LOG_ROTATE_BYTES) {
    this.path = path;
    this.limit = limit;
    this.handle = open(path, "w");
    this.handle.catch(() => {}); // reported by the first write
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.error) return;
    try {
      let offset = 0;
      while (offset < chunk.length) {
        if (this.size >= this.limit) await this.rotate();
        const part = chunk.subarray(offset, offset + (this.limit - this.size));
        const handle = await this.handle;
        let written = 0;
        while (written < part.length) written += (await handle.write(part, written)).bytesWritten;
        this.size += part.length;
        offset += part.length;
      }
    } catch (error) {
      this.error = error as Error;
    }
  }

  private async rotate(): Promise<void> {
    await (await this.handle).close();
    await rename(this.path, `${this.path}.1`);
    this.handle = open(this.path, "w");
    this.size = 0;
    this.rotations++;
  }

  async close(): Promise<void> {
    await this.handle.then(
      (handle) => handle.close(),
      () => {},
    );
  }
}

/**
 * Reads a program's pipe into its log and echoes it, holding at most one chunk and one line
 * (`ECHO_LINE_BYTES`) in memory: the pipe is paused until each piece is in the log. Text is cut at
 * line ends and passed through `scrub` before it is echoed or saved, so a secret the program prints
 * is masked even when it straddles two chunks. Resolves when the pipe has closed (or was destroyed)
 * and everything read is in the log.
 */
export function pump(
  stream: Readable,
  log: RotatingLog,
  echo: (text: string) => void,
  scrub: (text: string) => string = (text) => text,
): Promise<void> {
  const decoder = new StringDecoder("utf8");
  let line = "";
  let writing: Promise<void> = Promise.resolve();
  const emit = (text: string) => {
    if (text === "") return;
    const out = scrub(text);
    echo(out);
    writing = writing.then(() => log.write(Buffer.from(out, "utf8")));
  };
  /** The complete lines of what was read so far (or a line that grew too long). */
  const take = (text: string) => {
    line += text;
    const end = line.lastIndexOf("\n");
    if (end !== -1) {
      emit(line.slice(0, end + 1));
      line = line.slice(end + 1);
    }
    if (line.length >= ECHO_LINE_BYTES) {
      emit(line);
      line = "";
    }
  };
  stream.on("data", (chunk: Buffer) => {
    stream.pause();
    take(decoder.write(chunk));
    void writing.then(() => stream.resume());
  });
  return new Promise((resolve) => {
    stream.once("close", () => {
      take(decoder.end());
      emit(line);
      line = "";
      void writing.then(() => resolve());
    });
  });
}
