// Colour maps for images: a sequential map for amplitude, a cyclic map for phase (its two ends are
// the same colour, so a phase of -pi and of +pi look alike, as they are), and a diverging map for
// signed errors. The colours come from d3-scale-chromatic (the maps vega itself uses); each map is
// sampled once into a lookup table, so colouring an image is one table look-up per pixel.
import { interpolateRdBu, interpolateSinebow, interpolateViridis } from "d3-scale-chromatic";
import { FigureError } from "./errors.ts";

/** The colour maps figures use. */
export type ColormapName = "viridis" | "sinebow" | "redblue";

export interface Colormap {
  readonly name: ColormapName;
  /** What the map is for. */
  readonly kind: "sequential" | "cyclic" | "diverging";
  /** The colour at `t` in [0, 1] as 8-bit RGB; a cyclic map wraps `t` (t and t + 1 are alike). */
  readonly rgb: (t: number) => readonly [number, number, number];
  /** `count` evenly spaced colours from t = 0 to t = 1 as `#rrggbb`: a colour bar's gradient. */
  readonly stops: (count?: number) => readonly string[];
}

const TABLE_SIZE = 1024;

const SOURCES = {
  viridis: { kind: "sequential", interpolate: interpolateViridis },
  sinebow: { kind: "cyclic", interpolate: interpolateSinebow },
  // Reversed so that negative is blue and positive is red.
  redblue: { kind: "diverging", interpolate: (t: number) => interpolateRdBu(1 - t) },
} as const satisfies Record<ColormapName, { kind: Colormap["kind"]; interpolate: (t: number) => string }>;

/** Parses the `#rrggbb` and `rgb(r, g, b)` strings d3 returns. */
function parseColor(text: string): [number, number, number] {
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(text);
  if (hex) return [Number.parseInt(hex[1]!, 16), Number.parseInt(hex[2]!, 16), Number.parseInt(hex[3]!, 16)];
  const rgb = /^rgb\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*\)$/.exec(text);
  if (rgb) return [Math.round(Number(rgb[1])), Math.round(Number(rgb[2])), Math.round(Number(rgb[3]))];
  throw new FigureError("INVALID_INPUT", `colour map: cannot read the colour "${text}".`);
}

const hex2 = (v: number) => v.toString(16).padStart(2, "0");

const cache = new Map<ColormapName, Colormap>();

/** The colour map of that name. */
export function colormap(name: ColormapName): Colormap {
  const cached = cache.get(name);
  if (cached) return cached;
  const source = SOURCES[name];
  if (!source)
    throw new FigureError(
      "INVALID_INPUT",
      `colour map: unknown name "${String(name)}" (viridis, sinebow, redblue).`,
    );
  const cyclic = source.kind === "cyclic";
  // A cyclic table has no entry for t = 1 (it is t = 0); the others end exactly at t = 1.
  const table = Array.from({ length: TABLE_SIZE }, (_, i) =>
    parseColor(source.interpolate(i / (cyclic ? TABLE_SIZE : TABLE_SIZE - 1))),
  );
  const index = (t: number): number => {
    if (!Number.isFinite(t)) return 0;
    if (cyclic) return Math.round((t - Math.floor(t)) * TABLE_SIZE) % TABLE_SIZE;
    return Math.round(Math.min(1, Math.max(0, t)) * (TABLE_SIZE - 1));
  };
  const map: Colormap = {
    name,
    kind: source.kind,
    rgb: (t) => table[index(t)]!,
    stops: (count = 32) =>
      Array.from({ length: count }, (_, i) => {
        const [r, g, b] = table[index(i / (count - 1))]!;
        return `#${hex2(r)}${hex2(g)}${hex2(b)}`;
      }),
  };
  // The last stop of a cyclic map is its first colour again (t = 1 wraps to 0), as it should be.
  cache.set(name, map);
  return map;
}

/** Options of {@link applyColormap}. */
export interface ApplyColormapOptions {
  readonly colormap: ColormapName;
  /** The values at the two ends of the map (for a cyclic map, one period: `[-pi, pi]` for phase). */
  readonly domain: readonly [number, number];
  /** Pixels where the mask is 0 are left transparent. */
  readonly mask?: ArrayLike<number> | undefined;
}

/**
 * Colours `values` (row-major) as RGBA bytes, 4 per value: outside the domain a sequential or
 * diverging map clamps to its end colour, a cyclic one wraps; NaN and masked-out pixels stay
 * transparent.
 */
export function applyColormap(values: ArrayLike<number>, options: ApplyColormapOptions): Uint8Array {
  const [low, high] = options.domain;
  if (!(Number.isFinite(low) && Number.isFinite(high) && high > low))
    throw new FigureError(
      "INVALID_INPUT",
      `applyColormap: domain must be two finite values, low < high; got [${low}, ${high}].`,
    );
  const map = colormap(options.colormap);
  const { mask } = options;
  if (mask && mask.length !== values.length)
    throw new FigureError(
      "INVALID_INPUT",
      `applyColormap: the mask has ${mask.length} values and the image ${values.length}.`,
    );
  const out = new Uint8Array(values.length * 4);
  const span = high - low;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if ((mask && !mask[i]) || !Number.isFinite(v)) continue;
    const [r, g, b] = map.rgb((v - low) / span);
    out[4 * i] = r;
    out[4 * i + 1] = g;
    out[4 * i + 2] = b;
    out[4 * i + 3] = 255;
  }
  return out;
}
