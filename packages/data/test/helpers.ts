import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";
import type { NdArray } from "../src/index.ts";

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "fixtures");

export function fixture(name: string): string {
  return join(FIXTURES, name);
}

const created: string[] = [];

// Registered when a test file imports this module: removes that file's temporary folders.
afterAll(() => {
  for (const dir of created) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary folder, removed after the test file finishes. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "trainkit-data-"));
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

/** Error message with the machine-specific folders replaced, for inline snapshots. */
export function messageOf(error: unknown, temp?: string): string {
  let text = error instanceof Error ? error.message : String(error);
  text = text.split(FIXTURES).join("<fixtures>");
  if (temp !== undefined) text = text.split(temp).join("<tmp>");
  return text;
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

/** One array as numpy sees it, flattened; see `numpyView`. */
export interface NumpyArrayView {
  readonly descr: string;
  readonly shape: readonly number[];
  readonly values: readonly unknown[];
}

// Loads an .npz with allow_pickle=False and prints every array in a JSON form that keeps values
// exact: ints as strings, non-finite floats as strings, complex as [re, im], bytes decoded.
const NUMPY_DUMP = `
import json, math, sys
import numpy as np

def scalar(v):
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (complex, np.complexfloating)):
        return [scalar(float(v.real)), scalar(float(v.imag))]
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return "nan"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return f
    if isinstance(v, bytes):
        return v.decode("utf-8")
    return str(v)

out = {}
with np.load(sys.argv[1], allow_pickle=False) as npz:
    for key in npz.files:
        a = npz[key]
        out[key] = {"descr": a.dtype.str, "shape": list(a.shape), "values": [scalar(v) for v in a.reshape(-1).tolist()]}
print(json.dumps(out))
`;

/** What numpy (`np.load(path, allow_pickle=False)`) reads from a file. */
export function numpyView(file: string): Record<string, NumpyArrayView> {
  const text = execFileSync("python3", ["-c", NUMPY_DUMP, file], { encoding: "utf8" });
  return JSON.parse(text) as Record<string, NumpyArrayView>;
}

/** Runs a Python snippet with numpy imported as np; `sys.argv[1:]` are `args`. Returns stdout. */
export function python(code: string, ...args: string[]): string {
  return execFileSync("python3", ["-c", `import sys, json\nimport numpy as np\n${code}`, ...args], {
    encoding: "utf8",
  });
}

function scalarView(value: number | bigint | string): unknown {
  if (typeof value === "bigint") return String(value);
  if (typeof value === "string") return value;
  if (Number.isNaN(value)) return "nan";
  if (value === Number.POSITIVE_INFINITY) return "inf";
  if (value === Number.NEGATIVE_INFINITY) return "-inf";
  return value;
}

/** The same JSON form as `numpyView`, computed from our array (without the descr). */
export function ourView(array: NdArray): Omit<NumpyArrayView, "descr"> {
  const data = array.data as ArrayLike<number | bigint | string>;
  const values: unknown[] = [];
  if (array.dtype === "c8" || array.dtype === "c16") {
    for (let i = 0; i < data.length; i += 2) {
      values.push([scalarView(data[i] as number), scalarView(data[i + 1] as number)]);
    }
  } else if (array.dtype === "b1") {
    for (let i = 0; i < data.length; i++) values.push(data[i] !== 0);
  } else if (array.dtype === "i1" || array.dtype === "u1" || array.dtype === "i2" || array.dtype === "u2") {
    for (let i = 0; i < data.length; i++) values.push(String(data[i]));
  } else if (array.dtype === "i4" || array.dtype === "u4" || array.dtype === "i8" || array.dtype === "u8") {
    for (let i = 0; i < data.length; i++) values.push(String(data[i]));
  } else {
    for (let i = 0; i < data.length; i++) values.push(scalarView(data[i]!));
  }
  return { shape: [...array.shape], values };
}
