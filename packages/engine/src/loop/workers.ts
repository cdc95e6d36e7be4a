import { Worker } from "node:worker_threads";
import { LoopError } from "./errors.ts";
import type { Rng } from "./rng.ts";

/** Patterns stored row-major: `data` holds `count` items of `itemShape` each. */
export interface PatternDataset {
  readonly data: Float32Array;
  /** Shape of one item, e.g. [N, N] or [N, N, C]. */
  readonly itemShape: readonly number[];
}

export interface BatchLoaderOptions {
  /** `numWorkers`: 0 prepares batches inline on the calling thread. */
  readonly numWorkers: number;
  /** `prefetchFactor`: batches in flight per worker; null or absent uses 2 (PyTorch's default). */
  readonly prefetchFactor?: number | null;
  /** Normalisation: every value is multiplied by this (in float32). Default 1. */
  readonly scale?: number;
}

/** One prepared batch: the gathered items, in plan order. */
export interface PreparedBatch {
  /** Position in the plan. */
  readonly index: number;
  /** The item indices it was gathered from. */
  readonly indices: Int32Array;
  /** [indices.length, ...itemShape], row-major. */
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/** Prepares batches (gather + normalisation) inline or in worker threads; results come in plan order. */
export interface BatchLoader {
  readonly numWorkers: number;
  /** Prepares every batch of `plan`, yielding them in order. One iteration at a time per loader. */
  batches(plan: readonly Int32Array[]): AsyncGenerator<PreparedBatch, void, undefined>;
  /** Terminates the workers. Idempotent. */
  close(): Promise<void>;
}

/**
 * The batch kernel, as JavaScript source. It is the single implementation used both inline (compiled
 * once with `new Function`) and in every worker (embedded in the worker's eval source), so 0 and n
 * workers give byte-identical batches by construction.
 */
const GATHER_SOURCE = `function gather(data, itemSize, count, indices, scale) {
  const out = new Float32Array(indices.length * itemSize);
  for (let b = 0; b < indices.length; b++) {
    const i = indices[b];
    if (!(i >= 0 && i < count) || i !== Math.floor(i)) {
      throw new RangeError("batch index " + i + " is outside the dataset of " + count + " items");
    }
    const src = i * itemSize;
    const dst = b * itemSize;
    if (scale === 1) out.set(data.subarray(src, src + itemSize), dst);
    else for (let j = 0; j < itemSize; j++) out[dst + j] = data[src + j] * scale;
  }
  return out;
}`;

/**
 * The worker body: plain CommonJS run with `eval: true`, so it needs no file on disk and no
 * TypeScript loader (works the same from source under vitest/tsx and from a built `dist/`).
 * The dataset arrives once as a SharedArrayBuffer; each request carries the indices and the
 * result comes back as a transferred ArrayBuffer.
 */
const WORKER_SOURCE = `"use strict";
const { parentPort, workerData } = require("node:worker_threads");
const gather = ${GATHER_SOURCE};
const data = new Float32Array(workerData.buffer, workerData.byteOffset, workerData.length);
const { itemSize, count, scale } = workerData;
parentPort.on("message", (message) => {
  try {
    const out = gather(data, itemSize, count, message.indices, scale);
    parentPort.postMessage({ id: message.id, data: out }, [out.buffer]);
  } catch (error) {
    parentPort.postMessage({ id: message.id, error: String((error && error.message) || error) });
  }
});`;

type GatherFn = (
  data: Float32Array,
  itemSize: number,
  count: number,
  indices: Int32Array,
  scale: number,
) => Float32Array;

let inlineGather: GatherFn | undefined;
function gatherInline(): GatherFn {
  inlineGather ??= new Function(`return (${GATHER_SOURCE});`)() as GatherFn;
  return inlineGather;
}

/**
 * Splits `count` items into batches of `batchSize`, shuffled with `rng` (in scan order when null).
 * The last batch is short unless `dropLast`.
 */
export function planBatches(
  count: number,
  batchSize: number,
  rng: Rng | null,
  dropLast = false,
): Int32Array[] {
  if (!Number.isInteger(count) || count < 0) {
    throw new LoopError("INVALID_OPTION", `planBatches: count must be a non-negative integer, got ${count}.`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new LoopError("INVALID_OPTION", `batchSize: must be a positive integer, got ${batchSize}.`);
  }
  const order = rng === null ? Int32Array.from({ length: count }, (_, i) => i) : rng.permutation(count);
  const plan: Int32Array[] = [];
  for (let start = 0; start < count; start += batchSize) {
    if (dropLast && start + batchSize > count) break;
    plan.push(order.slice(start, Math.min(count, start + batchSize)));
  }
  return plan;
}

interface Deferred {
  readonly promise: Promise<Float32Array>;
  resolve(value: Float32Array): void;
  reject(error: Error): void;
}

function deferred(): Deferred {
  let resolve!: (value: Float32Array) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<Float32Array>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // a consumer that stops early must not leave unhandled rejections
  return { promise, resolve, reject };
}

/** A batch loader over `dataset`; with `numWorkers > 0` it starts that many worker threads. */
export function createBatchLoader(dataset: PatternDataset, options: BatchLoaderOptions): BatchLoader {
  const { numWorkers } = options;
  const scale = options.scale ?? 1;
  const prefetch = options.prefetchFactor ?? 2;
  if (!Number.isInteger(numWorkers) || numWorkers < 0) {
    throw new LoopError("INVALID_OPTION", `numWorkers: must be a non-negative integer, got ${numWorkers}.`);
  }
  if (!Number.isInteger(prefetch) || prefetch < 1) {
    throw new LoopError("INVALID_OPTION", `prefetchFactor: must be a positive integer, got ${prefetch}.`);
  }
  if (!Number.isFinite(scale)) throw new LoopError("INVALID_OPTION", `scale: must be finite, got ${scale}.`);
  const itemSize = dataset.itemShape.reduce((a, b) => a * b, 1);
  if (!Number.isInteger(itemSize) || itemSize < 1 || dataset.data.length % itemSize !== 0) {
    throw new LoopError(
      "INVALID_OPTION",
      `dataset: ${dataset.data.length} values do not divide into items of shape [${dataset.itemShape.join(", ")}].`,
    );
  }
  const count = dataset.data.length / itemSize;
  const shapeOf = (n: number): number[] => [n, ...dataset.itemShape];
  let busy = false;
  const enter = (): void => {
    if (busy) throw new LoopError("INVALID_OPTION", "batch loader: one batches() iteration at a time.");
    busy = true;
  };

  if (numWorkers === 0) {
    const gather = gatherInline();
    return {
      numWorkers,
      async *batches(plan) {
        enter();
        try {
          for (let index = 0; index < plan.length; index++) {
            const indices = plan[index]!;
            let data: Float32Array;
            try {
              data = gather(dataset.data, itemSize, count, indices, scale);
            } catch (cause) {
              throw new LoopError("INVALID_OPTION", `batch ${index}: ${(cause as Error).message}.`, {
                cause,
              });
            }
            yield { index, indices, data, shape: shapeOf(indices.length) };
          }
        } finally {
          busy = false;
        }
      },
      async close() {},
    };
  }

  // Share the dataset once with every worker (no per-worker copy).
  let shared: Float32Array;
  if (dataset.data.buffer instanceof SharedArrayBuffer) {
    shared = dataset.data;
  } else {
    shared = new Float32Array(new SharedArrayBuffer(dataset.data.byteLength));
    shared.set(dataset.data);
  }
  const workerData = {
    buffer: shared.buffer,
    byteOffset: shared.byteOffset,
    length: shared.length,
    itemSize,
    count,
    scale,
  };
  const pending = new Map<number, Deferred>();
  let failure: LoopError | null = null;
  let closed = false;
  const fail = (error: LoopError): void => {
    failure ??= error;
    for (const d of pending.values()) d.reject(failure);
    pending.clear();
  };
  const workers = Array.from({ length: numWorkers }, (_, w) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData });
    worker.unref(); // only held while an iteration runs
    worker.on("message", (message: { id: number; data?: Float32Array; error?: string }) => {
      const d = pending.get(message.id);
      if (d === undefined) return;
      pending.delete(message.id);
      if (message.error !== undefined) {
        d.reject(new LoopError("INVALID_OPTION", `batch preparation: ${message.error}.`));
      } else {
        d.resolve(message.data!);
      }
    });
    worker.on("error", (cause) =>
      fail(new LoopError("WORKER_FAILED", `data worker ${w} failed: ${cause.message}`, { cause })),
    );
    worker.on("exit", (code) => {
      if (!closed)
        fail(new LoopError("WORKER_FAILED", `data worker ${w} exited unexpectedly (code ${code}).`));
    });
    return worker;
  });
  const limit = numWorkers * prefetch;
  let nextId = 0;

  return {
    numWorkers,
    async *batches(plan) {
      enter();
      if (closed) {
        busy = false;
        throw new LoopError("INVALID_OPTION", "batch loader: batches() after close().");
      }
      for (const w of workers) w.ref();
      const inFlight: Promise<Float32Array>[] = [];
      const mine: number[] = [];
      let sent = 0;
      const send = (): void => {
        while (sent < plan.length && inFlight.length < limit) {
          // Request ids are unique across iterations, so a late answer to an abandoned iteration
          // can never be taken for an answer to this one.
          const id = nextId++;
          const d = deferred();
          if (failure !== null) d.reject(failure);
          else {
            pending.set(id, d);
            mine.push(id);
            workers[sent % numWorkers]!.postMessage({ id, indices: plan[sent]! });
          }
          sent++;
          inFlight.push(d.promise);
        }
      };
      try {
        for (let index = 0; index < plan.length; index++) {
          send();
          const data = await inFlight.shift()!;
          const indices = plan[index]!;
          yield { index, indices, data, shape: shapeOf(indices.length) };
        }
      } finally {
        for (const id of mine) pending.delete(id);
        for (const w of workers) w.unref();
        busy = false;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
