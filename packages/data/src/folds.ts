// k-fold cross-validation over the scan positions of one file, in spatially contiguous blocks: a
// random split would put each validation position next to training positions that see almost the
// same object region, so the validation loss would say little about unseen regions.
import { DataError } from "./errors.ts";

/** How the scan positions of a file fall into folds. */
export interface SpatialFolds {
  readonly foldCount: number;
  /** The coordinate the stripes run across: the one with the longer extent (`x` on a tie). */
  readonly axis: "x" | "y";
  /** The fold of each position, int32 [M], values in 0..foldCount-1. */
  readonly folds: Int32Array;
  /** Positions per fold; sizes differ by at most one (the first M mod k folds hold one more). */
  readonly sizes: readonly number[];
  /** The range of the stripe coordinate each fold covers, in fold order (ascending). */
  readonly bounds: readonly { readonly min: number; readonly max: number }[];
}

function invalid(message: string): never {
  throw new DataError("INVALID_OPTIONS", message);
}

/**
 * Assigns each scan position (`x[i]`, `y[i]`: xcoords and ycoords of a file) to one of `foldCount`
 * spatially contiguous blocks of nearly equal size: stripes across the longer extent of the scan.
 * Positions are ordered by the stripe coordinate, ties broken by the other coordinate and then by
 * index, and the order is cut into `foldCount` consecutive runs (the first `M mod foldCount` runs
 * one longer). Every position is in exactly one fold; fold i lies entirely below fold i+1 along
 * the stripe axis (equal coordinates may meet at a boundary). Deterministic: no randomness.
 * Throws `DataError` `INVALID_OPTIONS` for a `foldCount` below 2 or above the number of positions,
 * coordinate arrays of different lengths, or a coordinate that is not finite.
 */
export function assignSpatialFolds(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  foldCount: number,
): SpatialFolds {
  const M = x.length;
  if (y.length !== M) invalid(`xcoords and ycoords must have the same length, got ${M} and ${y.length}.`);
  if (!Number.isInteger(foldCount) || foldCount < 2)
    invalid(`foldCount must be an integer of at least 2, got ${foldCount}.`);
  if (foldCount > M)
    invalid(`foldCount ${foldCount} exceeds the ${M} scan positions: every fold needs at least one.`);
  let minX = Number.POSITIVE_INFINITY;
  let maxX = Number.NEGATIVE_INFINITY;
  let minY = Number.POSITIVE_INFINITY;
  let maxY = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < M; i++) {
    const xi = x[i]!;
    const yi = y[i]!;
    if (!Number.isFinite(xi) || !Number.isFinite(yi))
      invalid(`scan position ${i} is not finite: (${xi}, ${yi}).`);
    if (xi < minX) minX = xi;
    if (xi > maxX) maxX = xi;
    if (yi < minY) minY = yi;
    if (yi > maxY) maxY = yi;
  }
  const axis = maxX - minX >= maxY - minY ? "x" : "y";
  const primary = axis === "x" ? x : y;
  const secondary = axis === "x" ? y : x;
  const order = Array.from({ length: M }, (_, i) => i).sort(
    (a, b) => primary[a]! - primary[b]! || secondary[a]! - secondary[b]! || a - b,
  );
  const folds = new Int32Array(M);
  const sizes: number[] = [];
  const bounds: { min: number; max: number }[] = [];
  const base = Math.floor(M / foldCount);
  const extra = M % foldCount;
  let at = 0;
  for (let f = 0; f < foldCount; f++) {
    const size = base + (f < extra ? 1 : 0);
    for (let j = at; j < at + size; j++) folds[order[j]!] = f;
    sizes.push(size);
    bounds.push({ min: primary[order[at]!]!, max: primary[order[at + size - 1]!]! });
    at += size;
  }
  return { foldCount, axis, folds, sizes, bounds };
}

/** The positions (ascending indices) inside fold `foldIndex` and outside it. */
export function splitFold(
  assignment: SpatialFolds,
  foldIndex: number,
): { readonly train: Int32Array; readonly validation: Int32Array } {
  if (!Number.isInteger(foldIndex) || foldIndex < 0 || foldIndex >= assignment.foldCount)
    invalid(`foldIndex must be one of 0..${assignment.foldCount - 1}, got ${foldIndex}.`);
  const validation: number[] = [];
  const train: number[] = [];
  assignment.folds.forEach((f, i) => {
    (f === foldIndex ? validation : train).push(i);
  });
  return { train: Int32Array.from(train), validation: Int32Array.from(validation) };
}
