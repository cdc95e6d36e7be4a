// Test helpers: a PNG decoder (all five row filters, 8-bit grey/RGB/RGBA), enough to check what
// resvg and encodePng write, and a reader of the axis labels of a vega SVG.
import { inflateSync } from "node:zlib";

export interface DecodedPng {
  readonly width: number;
  readonly height: number;
  /** RGBA, 4 bytes per pixel. */
  readonly rgba: Uint8Array;
}

export function decodePng(file: Uint8Array): DecodedPng {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (!signature.every((b, i) => file[i] === b)) throw new Error("not a PNG");
  let width = 0;
  let height = 0;
  let colourType = -1;
  const idat: Uint8Array[] = [];
  for (let at = 8; at < file.length; ) {
    const length = view.getUint32(at);
    const type = new TextDecoder().decode(file.subarray(at + 4, at + 8));
    const data = file.subarray(at + 8, at + 8 + length);
    if (type === "IHDR") {
      width = view.getUint32(at + 8);
      height = view.getUint32(at + 12);
      if (data[8] !== 8) throw new Error(`bit depth ${data[8]}`);
      colourType = data[9]!;
    } else if (type === "IDAT") idat.push(data);
    at += 12 + length;
  }
  const channels = ({ 0: 1, 2: 3, 6: 4 } as Record<number, number>)[colourType];
  if (!channels) throw new Error(`colour type ${colourType}`);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const row = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? pixels[y * stride + i - channels]! : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + i]! : 0;
      const c = y > 0 && i >= channels ? pixels[(y - 1) * stride + i - channels]! : 0;
      const p = a + b - c;
      const paeth =
        Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c)
          ? a
          : Math.abs(p - b) <= Math.abs(p - c)
            ? b
            : c;
      const predictor = [0, a, b, (a + b) >> 1, paeth][filter];
      if (predictor === undefined) throw new Error(`filter ${filter}`);
      pixels[y * stride + i] = (row[i]! + predictor) & 255;
    }
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let k = 0; k < width * height; k++) {
    const src = pixels.subarray(k * channels, (k + 1) * channels);
    rgba.set(channels === 1 ? [src[0]!, src[0]!, src[0]!, 255] : channels === 3 ? [...src, 255] : src, k * 4);
  }
  return { width, height, rgba };
}

/** How many distinct opaque colours an image has (a blank one has one, or none). */
export function distinctColours(image: DecodedPng): number {
  const seen = new Set<number>();
  for (let k = 0; k < image.width * image.height; k++)
    if (image.rgba[4 * k + 3]! > 0)
      seen.add((image.rgba[4 * k]! << 16) | (image.rgba[4 * k + 1]! << 8) | image.rgba[4 * k + 2]!);
  return seen.size;
}

/** The labels of each axis of a vega SVG, in drawing order: `{ axis: "Y-axis titled 'loss'", labels }`. */
export function axisLabels(svg: string): { axis: string; labels: string[] }[] {
  const out: { axis: string; labels: string[] }[] = [];
  const axis = /aria-label="([XY]-axis titled '[^']*')[^"]*"/g;
  for (let m = axis.exec(svg); m !== null; m = axis.exec(svg)) {
    const rest = svg.slice(axis.lastIndex);
    const group = /<g class="mark-text role-axis-label"[^>]*>(.*?)<\/g>/s.exec(rest);
    const labels = [...(group?.[1] ?? "").matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((t) => t[1]!);
    out.push({ axis: m[1]!, labels });
  }
  return out;
}

/** The texts of every element of a role (`role-title-text`, `role-legend-label`, ...). */
export function texts(svg: string, role: string): string[] {
  return [...svg.matchAll(new RegExp(`<g class="mark-text ${role}"[^>]*>(.*?)</g>`, "gs"))].flatMap((g) =>
    [...g[1]!.matchAll(/<text[^>]*>(.*?)<\/text>/gs)].map((t) =>
      t[1]!.replace(/<tspan[^>]*>|<\/tspan>/g, "|"),
    ),
  );
}
