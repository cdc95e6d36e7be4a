import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as TF from "@tensorflow/tfjs";
import { afterAll } from "vitest";

const created: string[] = [];

afterAll(() => {
  for (const dir of created) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary folder, removed after the test file finishes. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "trainkit-loop-"));
  created.push(dir);
  return dir;
}

/** What `fn` threw (fails the test if it returned). */
export async function caught(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to throw, but it returned");
}

/** Message of a thrown value, with `temp` replaced by `<tmp>`. */
export function messageOf(error: unknown, temp?: string): string {
  const text = error instanceof Error ? error.message : String(error);
  return temp === undefined ? text : text.split(temp).join("<tmp>");
}

/**
 * TensorFlow.js on the quiet CPU backend: its "install tfjs-node" banner (printed on the first
 * tensor) is swallowed.
 */
export async function loadTf(): Promise<typeof TF> {
  const log = console.log;
  const warn = console.warn;
  console.log = () => {};
  console.warn = () => {};
  try {
    const tf = await import("@tensorflow/tfjs");
    await tf.setBackend("cpu");
    await tf.ready();
    tf.tensor(0).dispose();
    return tf;
  } finally {
    console.log = log;
    console.warn = warn;
  }
}

function probe(args: string[]): boolean {
  try {
    execFileSync("python3", args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export const HAS_PYTHON: boolean = probe(["-c", "pass"]);
export const HAS_PYYAML: boolean = HAS_PYTHON && probe(["-c", "import yaml"]);
export const HAS_TENSORBOARD: boolean = HAS_PYTHON && probe(["-c", "import tensorboard"]);
export const HAS_NUMPY: boolean = HAS_PYTHON && probe(["-c", "import numpy"]);

/** Runs `code` in python3 (with `json`, `sys`, `zipfile`, `io` and numpy as `np`); returns its stdout as JSON. */
export function python(code: string, ...args: string[]): unknown {
  const out = execFileSync(
    "python3",
    ["-c", `import io, json, sys, zipfile\nimport numpy as np\n${code}`, ...args],
    {
      encoding: "utf8",
    },
  );
  return JSON.parse(out);
}
