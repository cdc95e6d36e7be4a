/**
 * Placing the patches of a scan group on a shared object canvas ("object big").
 *
 * A group holds C = gridsize^2 neighbouring scan positions with relative offsets (pixels, `[B, C, 2]`
 * as `(x, y)` = (column, row) displacements). Patch `c`'s pixel `(i, j)` sits on the canvas at
 * `(i + dy_c, j + dx_c)`, offsets rounded to whole pixels and taken relative to the group's mean.
 * Both maps below are sparse linear maps on NHWC `[B, N, N, C]` tensors with precomputed index
 * tables, applied on the JavaScript side inside a custom gradient whose gradient is the transposed
 * map (no `tf.gather`: its wasm kernel is slow for large index sets, and its default gradient needs
 * `UnsortedSegmentSum`, which the wasm backend lacks). Tensors in, tensors out, any backend.
 *
 * - {@link createOverlapAverage} (objectBig, C > 1): every patch is placed on the canvas, the canvas
 *   is averaged where patches overlap, and each patch is cut back out. Overlapping pixels of
 *   different patches become equal, which is what lets overlap constrain the reconstruction.
 * - {@link createPatchExtraction} (objectBig off, C > 1): one predicted patch, centred on the group,
 *   stands for the whole canvas (zero outside); each position's patch is cut out of it.
 */
import type { GradSaveFunc, Tensor, Tensor3D, Tensor4D } from "@tensorflow/tfjs";
import { tf } from "./tfjs.ts";

/** Relative scan offsets of a batch of groups: `[B, C, 2]` pixels as `(x, y)`. */
export type PatchOffsets = Tensor3D | { readonly data: ArrayLike<number>; readonly shape: readonly number[] };

/** A fixed sparse linear map between flattened NHWC tensors, with its transpose. */
export interface PatchMap {
  /** Applies the map: `[B, N, N, Cin]` to `[B, N, N, Cout]`. */
  apply(x: Tensor4D): Tensor4D;
  /** Releases the map (its tables are plain arrays; kept for callers that scope maps). */
  dispose(): void;
}

interface SparseTable {
  /** Source index per output element, one vector per term; the sentinel `inSize` reads a zero. */
  readonly indices: readonly Int32Array[];
  /** One weight per output element, shared by every term; absent means all ones. */
  readonly weight: Float32Array | undefined;
  readonly inSize: number;
}

/**
 * Applies a table on the JavaScript side: one read of the input, a few passes over typed arrays, one
 * write of the result (~10x faster than `tf.gather` on wasm, whose kernel bounds-checks every index
 * through a closure).
 */
function applyTable(table: SparseTable, x: Tensor, outShape: readonly number[]): Tensor {
  const data = x.dataSync() as Float32Array;
  const outSize = table.indices[0]?.length ?? 0;
  const out = new Float32Array(outSize);
  const inSize = table.inSize;
  for (const idx of table.indices) {
    for (let i = 0; i < outSize; i++) {
      const src = idx[i] as number;
      if (src < inSize) out[i] = (out[i] as number) + (data[src] as number);
    }
  }
  const weight = table.weight;
  if (weight !== undefined)
    for (let i = 0; i < outSize; i++) out[i] = (out[i] as number) * (weight[i] as number);
  return tf.tensor(out, [...outShape]);
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
  return {
    apply: (x) => {
      if (x.shape.join() !== inShape.join()) {
        throw new Error(
          `patch map: expected input shape [${inShape.join(", ")}], got [${x.shape.join(", ")}].`,
        );
      }
      return fn(x);
    },
    dispose: () => {},
  };
}

/** Reads offsets as whole-pixel `(dx, dy)` per `(b, c)`, relative to each group's mean. */
export function roundedRelativeOffsets(offsets: PatchOffsets, batch: number, channels: number): Int32Array {
  const shape = offsets.shape;
  if (shape.length !== 3 || shape[0] !== batch || shape[1] !== channels || shape[2] !== 2) {
    throw new Error(
      `offsets: expected shape [${batch}, ${channels}, 2] (x, y in pixels), got [${shape.join(", ")}].`,
    );
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
export function createOverlapAverage(
  offsets: PatchOffsets,
  batch: number,
  n: number,
  channels: number,
): PatchMap {
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
  const table: SparseTable = { indices, weight, inSize: size };
  const shape = [batch, n, n, channels];
  return makeMap(table, table, shape, shape);
}

/**
 * objectBig off: one patch `[B, n, n, 1]` centred on the group is the whole (zero-padded) canvas;
 * returns the `C` patches `[B, n, n, C]` seen at the group's positions.
 */
export function createPatchExtraction(
  offsets: PatchOffsets,
  batch: number,
  n: number,
  channels: number,
): PatchMap {
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
    { indices: [fwd], weight: undefined, inSize },
    { indices: bwd, weight: undefined, inSize: outSize },
    [batch, n, n, 1],
    [batch, n, n, channels],
  );
}
