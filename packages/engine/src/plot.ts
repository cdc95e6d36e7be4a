// A loss-curve chart as a PNG: train and validation loss per epoch, with axes, ticks and labels
// drawn with a tiny built-in 5x7 bitmap font (no graphics library needed).
import { encodePng } from "./png.ts";

const FONT: Readonly<Record<string, readonly number[]>> = {
  "0": [14, 17, 19, 21, 25, 17, 14],
  "1": [4, 12, 4, 4, 4, 4, 14],
  "2": [14, 17, 1, 2, 4, 8, 31],
  "3": [31, 2, 4, 2, 1, 17, 14],
  "4": [2, 6, 10, 18, 31, 2, 2],
  "5": [31, 16, 30, 1, 1, 17, 14],
  "6": [6, 8, 16, 30, 17, 17, 14],
  "7": [31, 1, 2, 4, 8, 8, 8],
  "8": [14, 17, 17, 14, 17, 17, 14],
  "9": [14, 17, 17, 15, 1, 2, 12],
  ".": [0, 0, 0, 0, 0, 12, 12],
  "-": [0, 0, 0, 31, 0, 0, 0],
  "+": [0, 4, 4, 31, 4, 4, 0],
  " ": [0, 0, 0, 0, 0, 0, 0],
  e: [0, 0, 14, 17, 31, 16, 14],
  t: [8, 8, 28, 8, 8, 9, 6],
  r: [0, 0, 22, 25, 16, 16, 16],
  a: [0, 0, 14, 1, 15, 17, 15],
  i: [4, 0, 12, 4, 4, 4, 14],
  n: [0, 0, 22, 25, 17, 17, 17],
  v: [0, 0, 17, 17, 17, 10, 4],
  l: [12, 4, 4, 4, 4, 4, 14],
  o: [0, 0, 14, 17, 17, 17, 14],
  s: [0, 0, 15, 16, 14, 1, 30],
  p: [0, 0, 30, 17, 30, 16, 16],
  c: [0, 0, 14, 16, 16, 17, 14],
  h: [16, 16, 22, 25, 17, 17, 17],
};

type Rgb = readonly [number, number, number];

class Canvas {
  readonly pixels: Uint8Array;
  readonly width: number;
  readonly height: number;
  constructor(width: number, height: number) {
    this.width = width;
    this.height = height;
    this.pixels = new Uint8Array(width * height * 3).fill(255);
  }
  set(x: number, y: number, [r, g, b]: Rgb): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const k = (Math.round(y) * this.width + Math.round(x)) * 3;
    this.pixels[k] = r;
    this.pixels[k + 1] = g;
    this.pixels[k + 2] = b;
  }
  line(x0: number, y0: number, x1: number, y1: number, color: Rgb, thickness = 1): void {
    const steps = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0)));
    for (let s = 0; s <= steps; s++) {
      const x = x0 + ((x1 - x0) * s) / steps;
      const y = y0 + ((y1 - y0) * s) / steps;
      for (let d = -(thickness >> 1); d <= thickness >> 1; d++) {
        this.set(x, y + d, color);
        this.set(x + d, y, color);
      }
    }
  }
  text(x: number, y: number, text: string, color: Rgb): void {
    for (const [i, ch] of [...text].entries()) {
      const rows = FONT[ch] ?? FONT[" "]!;
      rows.forEach((bits, row) => {
        for (let col = 0; col < 5; col++) if (bits & (16 >> col)) this.set(x + i * 6 + col, y + row, color);
      });
    }
  }
}

function label(value: number): string {
  const abs = Math.abs(value);
  return abs !== 0 && (abs >= 1e4 || abs < 1e-2)
    ? value.toExponential(1)
    : String(Number(value.toPrecision(3)));
}

const TRAIN: Rgb = [31, 119, 180];
const VAL: Rgb = [255, 127, 14];
const AXIS: Rgb = [80, 80, 80];
const GRID: Rgb = [225, 225, 225];

/** A PNG line chart of loss per epoch (train in blue, validation in orange). */
export function lossChart(series: {
  readonly train: readonly number[];
  readonly val?: readonly number[];
}): Uint8Array {
  const width = 640;
  const height = 400;
  const left = 70;
  const right = 20;
  const top = 30;
  const bottom = 40;
  const canvas = new Canvas(width, height);
  const all = [...series.train, ...(series.val ?? [])].filter(Number.isFinite);
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (!(hi > lo)) {
    lo -= 1;
    hi += 1;
  }
  const epochs = Math.max(series.train.length, series.val?.length ?? 0);
  const px = (epoch: number) => left + ((width - left - right) * epoch) / Math.max(1, epochs - 1);
  const py = (value: number) => height - bottom - ((height - top - bottom) * (value - lo)) / (hi - lo);
  for (let t = 0; t <= 4; t++) {
    const value = lo + ((hi - lo) * t) / 4;
    canvas.line(left, py(value), width - right, py(value), GRID);
    canvas.text(4, py(value) - 3, label(value), AXIS);
  }
  canvas.line(left, top, left, height - bottom, AXIS);
  canvas.line(left, height - bottom, width - right, height - bottom, AXIS);
  const tickEvery = Math.max(1, Math.ceil(epochs / 10));
  for (let e = 0; e < epochs; e += tickEvery) {
    canvas.line(px(e), height - bottom, px(e), height - bottom + 4, AXIS);
    canvas.text(px(e) - 3, height - bottom + 8, String(e), AXIS);
  }
  canvas.text(width / 2 - 15, height - 14, "epoch", AXIS);
  for (const [values, color] of [
    [series.train, TRAIN],
    [series.val ?? [], VAL],
  ] as const) {
    for (let e = 1; e < values.length; e++)
      canvas.line(px(e - 1), py(values[e - 1]!), px(e), py(values[e]!), color, 2);
    if (values.length === 1) canvas.line(px(0) - 2, py(values[0]!), px(0) + 2, py(values[0]!), color, 3);
  }
  canvas.line(width - 150, 14, width - 135, 14, TRAIN, 2);
  canvas.text(width - 130, 11, "train loss", AXIS);
  if (series.val) {
    canvas.line(width - 150, 24, width - 135, 24, VAL, 2);
    canvas.text(width - 130, 21, "val loss", AXIS);
  }
  return encodePng(width, height, canvas.pixels, 3);
}
