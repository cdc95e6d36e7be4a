/**
 * Reference mode, for tests only: the custom-gradient building blocks of `ops.ts` (`conv2dSame`,
 * `maxPool2`, `upsample2`, `matmulConst`) fall back to stock TensorFlow.js ops and their built-in
 * gradients, so a whole-model gradient computed on the cpu backend in reference mode is an
 * independent check of the fast gradients. (The patch maps keep their gather gradient: the stock one
 * needs `UnsortedSegmentSum`, quadratic on cpu; they are checked against dense matrices instead.)
 * Unusable on wasm, which lacks the stock convolution filter gradient.
 */
let enabled = false;

export function setReferenceOps(on: boolean): void {
  enabled = on;
}

export function referenceOps(): boolean {
  return enabled;
}
