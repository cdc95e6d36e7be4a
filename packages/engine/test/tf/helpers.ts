import { initBackend } from "../../src/tf/backend.ts";
import { createRng } from "../../src/tf/init.ts";
import { tf } from "../../src/tf/tfjs.ts";

/** Seeded uniform values in [lo, hi). */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rng();
  return out;
}

/** Runs `fn` on a backend and returns what it read back (plain arrays survive the switch). */
export async function onBackend<T>(name: "cpu" | "wasm", fn: () => T): Promise<T> {
  if (name === "wasm") await initBackend("wasm");
  else await tf.setBackend("cpu");
  return fn();
}

/** max |a - b| / max(1, max |b|). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return diff / scale;
}

/** A disk probe of radius `radius` px, blurred edge, flat phase. */
export function diskProbe(n: number, radius = n / 4): { re: Float32Array; im: Float32Array; N: number } {
  const re = new Float32Array(n * n);
  const im = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const r = Math.hypot(i - n / 2 + 0.5, j - n / 2 + 0.5);
      re[i * n + j] = 1 / (1 + Math.exp((r - radius) / 1.5));
    }
  }
  return { re, im, N: n };
}
