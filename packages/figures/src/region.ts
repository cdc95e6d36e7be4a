// The scanned region of a reconstruction: figures show the bounding box of the pixels the scan lit,
// not the whole canvas (whose border no probe position reached).
import { FigureError } from "./errors.ts";

/** A rectangle of pixels: columns `x .. x + width - 1`, rows `y .. y + height - 1`. */
export interface PixelBox {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** The smallest box holding every pixel where `mask` is non-zero (row-major, `width` per row). */
export function regionBox(mask: ArrayLike<number>, width: number, height: number): PixelBox {
  if (mask.length !== width * height)
    throw new FigureError(
      "INVALID_INPUT",
      `regionBox: a ${width}x${height} image has ${width * height} pixels, the mask ${mask.length}.`,
    );
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  if (x1 < 0)
    throw new FigureError(
      "INVALID_INPUT",
      `regionBox: the mask of the ${width}x${height} image selects no pixel.`,
    );
  return { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

/** The values of `box` (row-major) out of a row-major image `width` pixels wide. */
export function cropToBox(values: ArrayLike<number>, width: number, box: PixelBox): Float64Array {
  const out = new Float64Array(box.width * box.height);
  for (let y = 0; y < box.height; y++)
    for (let x = 0; x < box.width; x++) out[y * box.width + x] = values[(box.y + y) * width + box.x + x]!;
  return out;
}

/**
 * The `low` and `high` quantiles of the finite values where `mask` is set (all values without a
 * mask): a colour range that a few stray pixels cannot flatten. Widened around a constant image.
 */
export function quantileDomain(
  values: ArrayLike<number>,
  mask: ArrayLike<number> | undefined,
  low = 0.01,
  high = 0.99,
): [number, number] {
  const inside: number[] = [];
  for (let k = 0; k < values.length; k++)
    if ((!mask || mask[k]) && Number.isFinite(values[k])) inside.push(values[k]!);
  if (inside.length === 0)
    throw new FigureError("INVALID_INPUT", "quantileDomain: no finite value in the region.");
  inside.sort((a, b) => a - b);
  const at = (q: number) => inside[Math.min(inside.length - 1, Math.max(0, Math.floor(q * inside.length)))]!;
  let lo = at(low);
  let hi = at(high);
  if (!(hi > lo)) {
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.05 : 1;
    lo -= pad;
    hi += pad;
  }
  return [lo, hi];
}
