/**
 * Placing the patches of a scan group on a shared object canvas ("object big").
 *
 * A group holds C = gridsize^2 neighbouring scan positions with relative offsets (pixels, `[B, C, 2]`
 * as `(x, y)` = (column, row) displacements). Patch `c`'s pixel `(i, j)` sits on the canvas at
 * `(i + dy_c, j + dx_c)`, offsets rounded to whole pixels and taken relative to the group's mean.
 * Both maps below are sparse linear maps on NHWC `[B, N, N, C]` tensors, applied with `tf.gather`
 * and precomputed index tables; their gradient is the transposed map, also a gather (the default
 * gather gradient needs `UnsortedSegmentSum`, which the wasm backend lacks).
 *
 * - {@link createOverlapAverage} (objectBig, C > 1): every patch is placed on the canvas, the canvas
 *   is averaged where patches overlap, and each patch is cut back out. Overlapping pixels of
 *   different patches become equal, which is what lets overlap constrain the reconstruction.
 * - {@link createPatchExtraction} (objectBig off, C > 1): one predicted patch, centred on the group,
 *   stands for the whole canvas (zero outside); each position's patch is cut out of it.
 */
import type { GradSaveFunc, Tensor, Tensor1D, Tensor3D, Tensor4D } from "@tensorflow/tfjs";
import { tf } from "./tfjs.ts";

/** Relative scan offsets of a batch of groups: `[B, C, 2]` pixels as `(x, y)`. */
export type PatchOffsets = Tensor3D | { readonly data: ArrayLike<number>; readonly shape: readonly number[] };

/** A fixed sparse linear map between flattened NHWC tensors, with its transpose. */
export interface PatchMap {
  /** Applies the map: `[B, N, N, Cin]` to `[B, N, N, Cout]`. */
  apply(x: Tensor4D): Tensor4D;
  /** Frees the index tables. */
  dispose(): void;
}

interface SparseTable {
  /** Gather index vectors over the flattened input; the sentinel `inSize` reads a zero. */
  readonly indices: Tensor1D[];
  /** One weight per output element, shared by every term; absent means all ones. */
  readonly weight: Tensor1D | undefined;
}

function createTable(indices: readonly Int32Array[], weight: Float32Array | undefined): SparseTable {
  return tf.tidy(() => ({
    indices: indices.map((a) => tf.keep(tf.tensor1d(a, "int32"))),
    weight: weight === undefined ? undefined : tf.keep(tf.tensor1d(weight)),
  }));
}

function applyTable(table: SparseTable, x: Tensor, outShape: readonly number[]): Tensor {
  const flat = tf.concat([tf.reshape(x, [x.size]), tf.zeros([1])]);
  const terms = table.indices.map((idx) => tf.gather(flat, idx));
  const sum = terms.length === 1 ? (terms[0] as Tensor) : tf.addN(terms);
  return tf.reshape(table.weight === undefined ? sum : tf.mul(sum, table.weight), [...outShape]);
}

function disposeTable(table: SparseTable): void {
  for (const t of table.indices) t.dispose();
  table.weight?.dispose();
}

function makeMap(
  forward: SparseTable,
  backward: SparseTable,
  inShape: readonly number[],
  outShape: readonly number[],
): PatchMap {
  const fn = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const x = args[0] as Tensor4D;
    return {
      value: applyTable(forward, x, outShape) as Tensor4D,
      gradFunc: (dy: Tensor4D): Tensor => applyTable(backward, dy, inShape),
    };
  }) as (x: Tensor4D) => Tensor4D;
  const tables = forward === backward ? [forward] : [forward, backward];
  return {
    apply: (x) => {
      if (x.shape.join() !== inShape.join()) {
        throw new Error(`patch map: expected input shape [${inShape.join(", ")}], got [${x.shape.join(", ")}].`);
      }
      return fn(x);
    },
    dispose: () => {
      for (const t of tables) disposeTable(t);
    },
  };
}

/** Reads offsets as whole-pixel `(dx, dy)` per `(b, c)`, relative to each group's mean. */
export function roundedRelativeOffsets(offsets: PatchOffsets, batch: number, channels: number): Int32Array {
  const shape = offsets.shape;
  if (shape.length !== 3 || shape[0] !== batch || shape[1] !== channels || shape[2] !== 2) {
    throw new Error(`offsets: expected shape [${batch}, ${channels}, 2] (x, y in pixels), got [${shape.join(", ")}].`);
  }
  const data = "dataSync" in offsets ? offsets.dataSync() : offsets.data;
  const out = new Int32Array(batch * channels * 2);
  for (let b = 0; b < batch; b++) {
    for (let axis = 0; axis < 2; axis++) {
      let mean = 0;
      for (let c = 0; c < channels; c++) mean += Number(data[(b * channels + c) * 2 + axis]);
      mean /= channels;
      for (let c = 0; c < channels; c++) {
        out[(b * channels + c) * 2 + axis] = Math.round(Number(data[(b * channels + c) * 2 + axis]) - mean);
      }
    }
  }
  return out;
}

/**
 * objectBig reassembly for patches `[B, n, n, C]`: place every patch on the group's canvas, average
 * where they overlap, and cut each patch back out. The map is symmetric, so its gradient is itself.
 */
export function createOverlapAverage(offsets: PatchOffsets, batch: number, n: number, channels: number): PatchMap {
  const o = roundedRelativeOffsets(offsets, batch, channels);
  const size = batch * n * n * channels;
  // Term c of output (b, i, j, cOut) reads patch c at the same canvas pixel, if patch c covers it.
  const indices = Array.from({ length: channels }, () => new Int32Array(size).fill(size));
  const weight = new Float32Array(size);
  for (let b = 0; b < batch; b++) {
    for (let cOut = 0; cOut < channels; cOut++) {
      const dxOut = o[(b * channels + cOut) * 2] as number;
      const dyOut = o[(b * channels + cOut) * 2 + 1] as number;
      for (let c = 0; c < channels; c++) {
        const shiftI = dyOut - (o[(b * channels + c) * 2 + 1] as number);
        const shiftJ = dxOut - (o[(b * channels + c) * 2] as number);
        const idx = indices[c] as Int32Array;
        for (let i = Math.max(0, -shiftI); i < Math.min(n, n - shiftI); i++) {
          for (let j = Math.max(0, -shiftJ); j < Math.min(n, n - shiftJ); j++) {
            const out = ((b * n + i) * n + j) * channels + cOut;
            idx[out] = ((b * n + i + shiftI) * n + j + shiftJ) * channels + c;
            weight[out] = (weight[out] as number) + 1;
          }
        }
      }
    }
  }
  for (let k = 0; k < size; k++) weight[k] = 1 / (weight[k] as number);
  const table = createTable(indices, weight);
  const shape = [batch, n, n, channels];
  return makeMap(table, table, shape, shape);
}

/**
 * objectBig off: one patch `[B, n, n, 1]` centred on the group is the whole (zero-padded) canvas;
 * returns the `C` patches `[B, n, n, C]` seen at the group's positions.
 */
export function createPatchExtraction(offsets: PatchOffsets, batch: number, n: number, channels: number): PatchMap {
  const o = roundedRelativeOffsets(offsets, batch, channels);
  const inSize = batch * n * n;
  const outSize = inSize * channels;
  const fwd = new Int32Array(outSize).fill(inSize);
  // The transpose: term c of input pixel p collects output (p's pixel seen from position c).
  const bwd = Array.from({ length: channels }, () => new Int32Array(inSize).fill(outSize));
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < channels; c++) {
      const dx = o[(b * channels + c) * 2] as number;
      const dy = o[(b * channels + c) * 2 + 1] as number;
      const back = bwd[c] as Int32Array;
      for (let i = Math.max(0, -dy); i < Math.min(n, n - dy); i++) {
        for (let j = Math.max(0, -dx); j < Math.min(n, n - dx); j++) {
          const out = ((b * n + i) * n + j) * channels + c;
          const src = (b * n + i + dy) * n + j + dx;
          fwd[out] = src;
          back[src] = out;
        }
      }
    }
  }
  return makeMap(
    createTable([fwd], undefined),
    createTable(bwd, undefined),
    [batch, n, n, 1],
    [batch, n, n, channels],
  );
}
