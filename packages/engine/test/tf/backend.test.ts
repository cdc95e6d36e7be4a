import { availableParallelism } from "node:os";
import { afterEach, describe, expect, it, vi } from "vitest";
import { activeBackend, initBackend } from "../../src/tf/backend.ts";
import { tf } from "../../src/tf/tfjs.ts";
import { onBackend, randomArray } from "./helpers.ts";

// One XNNPACK thread per available core, at most the 8 the backend's pool holds.
const WASM_THREADS = Math.min(8, availableParallelism());

afterEach(() => {
  vi.restoreAllMocks();
});

describe("initBackend", () => {
  it("prints nothing, not even TensorFlow.js' tfjs-node banner on the cpu backend's first use", async () => {
    const log = vi.spyOn(console, "log");
    const warn = vi.spyOn(console, "warn");
    const info = vi.spyOn(console, "info");
    expect(await initBackend("cpu")).toEqual({ backend: "cpu", threads: 1 });
    tf.tidy(() => tf.add(tf.tensor1d([1, 2]), 1).dataSync());
    expect(await initBackend("wasm")).toEqual({ backend: "wasm", threads: WASM_THREADS });
    tf.tidy(() => tf.add(tf.tensor1d([1, 2]), 1).dataSync());
    expect([...log.mock.calls, ...warn.mock.calls, ...info.mock.calls]).toEqual([]);
  });

  it("is idempotent and reports the active backend", async () => {
    const first = await initBackend("wasm");
    const second = await initBackend("wasm");
    expect(second).toBe(first);
    expect(activeBackend()).toBe("wasm");
    expect(first.threads).toBe(WASM_THREADS);
    expect(tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT")).toBe(WASM_THREADS > 1);
  });

  it("switches back to wasm after a detour to cpu", async () => {
    await initBackend("wasm");
    await initBackend("cpu");
    expect(activeBackend()).toBe("cpu");
    expect(await initBackend("wasm")).toEqual({ backend: "wasm", threads: WASM_THREADS });
    expect(activeBackend()).toBe("wasm");
  });
});

describe("wasm Slice kernel replacement", () => {
  const cases: { shape: number[]; begin: number[]; size: number[] }[] = [
    { shape: [50], begin: [7], size: [30] },
    { shape: [6, 9], begin: [1, 2], size: [4, 5] },
    { shape: [6, 9], begin: [2, 0], size: [3, 9] },
    { shape: [3, 5, 7], begin: [1, 1, 2], size: [2, 3, 4] },
    { shape: [2, 5, 6, 3], begin: [0, 1, 2, 1], size: [2, 3, 3, 2] },
    { shape: [2, 5, 6, 3], begin: [1, 0, 0, 0], size: [1, 5, 6, 3] },
    { shape: [2, 3, 2, 3, 2], begin: [0, 1, 0, 1, 0], size: [2, 2, 2, 2, 1] },
  ];
  for (const c of cases) {
    it(`matches the cpu kernel for shape [${c.shape.join(", ")}] begin [${c.begin.join(", ")}]`, async () => {
      const x = randomArray(
        c.shape.reduce((a, b) => a * b, 1),
        1,
      );
      const run = () =>
        tf.tidy(() => Array.from(tf.slice(tf.tensor(x, c.shape), c.begin, c.size).dataSync()));
      const ref = await onBackend("cpu", run);
      const got = await onBackend("wasm", run);
      expect(got).toEqual(ref);
      const ints = await onBackend("wasm", () =>
        tf.tidy(() =>
          Array.from(
            tf
              .slice(
                tf.tensor(
                  Array.from(x, (v) => Math.round(v * 100)),
                  c.shape,
                  "int32",
                ),
                c.begin,
                c.size,
              )
              .dataSync(),
          ),
        ),
      );
      expect(ints).toEqual(ref.map((v) => Math.round(v * 100)));
    });
  }
});
