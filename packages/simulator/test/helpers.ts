import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

const created: string[] = [];

// Registered when a test file imports this module: removes that file's temporary folders.
afterAll(() => {
  for (const dir of created) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary folder, removed after the test file finishes. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "trainkit-simulator-"));
  created.push(dir);
  return dir;
}

function probePython(): boolean {
  try {
    execFileSync("python3", ["-c", "import numpy"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Whether `python3 -c "import numpy"` works; tests that need numpy are skipped otherwise. */
export const HAS_NUMPY: boolean = probePython();

/** Error message (or text) with the temporary folder replaced by `<tmp>`, for inline snapshots. */
export function messageOf(error: unknown, temp?: string): string {
  const text = error instanceof Error ? error.message : String(error);
  return temp === undefined ? text : text.split(temp).join("<tmp>");
}

/** Runs `fn` and returns what it threw (fails the test if it did not throw). */
export async function caught(fn: () => Promise<unknown> | unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to throw, but it returned");
}

/** Runs `fn` and returns what it threw (fails the test if it did not throw). */
export function caughtSync(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to throw, but it returned");
}

/** The `code` of a thrown value, for short assertions. */
export function codeOf(error: unknown): unknown {
  return (error as { code?: unknown }).code;
}

/** Runs a Python snippet with numpy imported as np; `sys.argv[1:]` are `args`. Returns stdout. */
export function python(code: string, ...args: string[]): string {
  return execFileSync("python3", ["-c", `import sys, json\nimport numpy as np\n${code}`, ...args], {
    encoding: "utf8",
  });
}
