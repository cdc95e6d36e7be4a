import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const BINS = {
  train: join(ROOT, "packages/train-cli/bin/trainkit-train.js"),
  infer: join(ROOT, "packages/infer-cli/bin/trainkit-infer.js"),
  study: join(ROOT, "packages/study-cli/bin/trainkit-study.js"),
} as const;

export interface CommandResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command the way a user does: a child process with its own environment. */
export function run(
  bin: keyof typeof BINS,
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string; timeout?: number } = {},
): CommandResult {
  const result = spawnSync(process.execPath, [BINS[bin], ...args], {
    cwd: options.cwd ?? ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...options.env },
    encoding: "utf8",
    timeout: options.timeout ?? 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export function tempDir(prefix = "trainkit-e2e-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The largest absolute difference between two equally long arrays (or lists of arrays). */
export function maxAbsDiff(a: ArrayLike<number> | readonly ArrayLike<number>[], b: typeof a): number {
  const left = (typeof a[0] === "number" ? [a] : a) as readonly ArrayLike<number>[];
  const right = (typeof b[0] === "number" ? [b] : b) as readonly ArrayLike<number>[];
  let max = 0;
  for (let i = 0; i < left.length; i++) {
    const x = left[i]!;
    const y = right[i]!;
    for (let j = 0; j < x.length; j++) max = Math.max(max, Math.abs(x[j]! - y[j]!));
  }
  return max;
}
