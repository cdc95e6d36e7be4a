// A minimal PNG writer (8-bit greyscale, RGB or RGBA): the raster inside image figures.
import { crc32, deflateSync } from "node:zlib";
import { FigureError } from "./errors.ts";

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  const typeAndData = new Uint8Array(4 + data.length);
  typeAndData.set(new TextEncoder().encode(type), 0);
  typeAndData.set(data, 4);
  out.set(typeAndData, 4);
  view.setUint32(8 + data.length, crc32(typeAndData) >>> 0);
  return out;
}

const COLOUR_TYPE = { 1: 0, 3: 2, 4: 6 } as const;

/** Encodes `pixels` (row-major, `channels` bytes per pixel: 1 grey, 3 RGB, 4 RGBA) as a PNG file. */
export function encodePng(
  width: number,
  height: number,
  pixels: Uint8Array,
  channels: 1 | 3 | 4,
): Uint8Array {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0))
    throw new FigureError(
      "INVALID_INPUT",
      `encodePng: width and height must be positive integers, got ${width}x${height}.`,
    );
  if (pixels.length !== width * height * channels)
    throw new FigureError(
      "INVALID_INPUT",
      `encodePng: a ${width}x${height} image of ${channels} channels is ${width * height * channels} bytes, got ${pixels.length}.`,
    );
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header[8] = 8; // bit depth
  header[9] = COLOUR_TYPE[channels];
  const stride = width * channels;
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0; // filter: none
    raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
