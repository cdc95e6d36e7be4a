// Image figures of a reconstruction: each panel is the colour-mapped raster (a PNG inside the spec,
// drawn pixel for pixel) over the scanned region, with axes in pixels of the full canvas and a colour
// bar. Amplitude uses a sequential map, phase a cyclic one over [-pi, pi], errors a diverging map
// centred on zero. `comparisonFigureSpec` lays out truth | reconstruction | error for both.
import { applyColormap, type ColormapName, colormap } from "./colormap.ts";
import { FigureError } from "./errors.ts";
import { encodePng } from "./png.ts";
import { cropToBox, type PixelBox, quantileDomain, regionBox } from "./region.ts";
import { FIGURE_FONT } from "./render.ts";

/** A row-major image. */
export interface ImageGrid {
  readonly width: number;
  readonly height: number;
  readonly values: ArrayLike<number>;
}

/** One panel: values over a box of the canvas, coloured over `domain`. */
export interface ImagePanel {
  readonly title: string;
  /** The whole canvas (row-major); the panel shows `box` of it. */
  readonly image: ImageGrid;
  /** The region to show; pixels of the box outside `mask` are transparent. */
  readonly box: PixelBox;
  readonly mask?: ArrayLike<number> | undefined;
  readonly colormap: ColormapName;
  readonly domain: readonly [number, number];
  /** The colour bar's title (the quantity and its unit). */
  readonly colorbarTitle: string;
  /** Colour-bar labels as multiples of pi (phase). */
  readonly radians?: boolean;
}

/** The longer side of a panel, in SVG units: small crops are enlarged, pixel for pixel. */
const PANEL_SIZE = 220;

type Spec = Record<string, unknown>;

function checkImage(image: ImageGrid, what: string): void {
  if (image.values.length !== image.width * image.height)
    throw new FigureError(
      "INVALID_INPUT",
      `${what}: a ${image.width}x${image.height} image has ${image.width * image.height} values, got ${image.values.length}.`,
    );
}

/**
 * The raster enlarged `factor` times, pixel for pixel: renderers smooth an image they enlarge (resvg
 * ignores `image-rendering: pixelated`), which would blur the pixels and the region's edge.
 */
function enlarge(rgba: Uint8Array, width: number, height: number, factor: number): Uint8Array {
  if (factor === 1) return rgba;
  const out = new Uint8Array(rgba.length * factor * factor);
  const rowBytes = width * factor * 4;
  for (let y = 0; y < height; y++) {
    const row = out.subarray(y * factor * rowBytes, (y * factor + 1) * rowBytes);
    for (let x = 0; x < width; x++)
      for (let f = 0; f < factor; f++)
        row.set(rgba.subarray((y * width + x) * 4, (y * width + x + 1) * 4), (x * factor + f) * 4);
    for (let f = 1; f < factor; f++) out.set(row, (y * factor + f) * rowBytes);
  }
  return out;
}

function dataUrl(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png).toString("base64")}`;
}

/** One panel as a vega-lite layer spec (to place in a concat, or to wrap with `figureSpec`). */
export function imagePanelSpec(panel: ImagePanel): Spec {
  checkImage(panel.image, panel.title);
  const { box } = panel;
  const values = cropToBox(panel.image.values, panel.image.width, box);
  const mask = panel.mask ? cropToBox(panel.mask, panel.image.width, box) : undefined;
  const rgba = applyColormap(values, { colormap: panel.colormap, domain: panel.domain, mask });
  const zoom = PANEL_SIZE / Math.max(box.width, box.height);
  const width = Math.round(box.width * zoom);
  const height = Math.round(box.height * zoom);
  // Enough raster pixels for a PNG at twice the SVG's size, at most 8 per value.
  const factor = Math.max(1, Math.min(8, Math.ceil(zoom * 2)));
  const [low, high] = panel.domain;
  const map = colormap(panel.colormap);
  const legend: Spec = {
    title: panel.colorbarTitle,
    orient: "right",
    direction: "vertical",
    gradientLength: height,
    gradientThickness: 12,
    titleOrient: "right",
    ...(panel.radians
      ? {
          values: [-Math.PI, -Math.PI / 2, 0, Math.PI / 2, Math.PI].filter(
            (v) => v >= low - 1e-9 && v <= high + 1e-9,
          ),
          labelExpr:
            "datum.value === 0 ? '0' : (abs(abs(datum.value) - PI) < 1e-6 ? (datum.value < 0 ? '−π' : 'π') : (datum.value < 0 ? '−π/2' : 'π/2'))",
        }
      : { format: "~g", tickCount: 5 }),
  };
  return {
    width,
    height,
    title: panel.title,
    layer: [
      {
        // The axes (pixels of the full canvas) and the colour bar: two invisible corner points.
        data: {
          values: [
            { x: box.x, y: box.y, v: low },
            { x: box.x + box.width, y: box.y + box.height, v: high },
          ],
        },
        mark: { type: "point", opacity: 0 },
        encoding: {
          x: {
            field: "x",
            type: "quantitative",
            title: "x (pixels)",
            scale: { domain: [box.x, box.x + box.width], nice: false, zero: false },
            axis: { tickCount: 4, format: "d" },
          },
          y: {
            field: "y",
            type: "quantitative",
            title: "y (pixels)",
            scale: { domain: [box.y, box.y + box.height], nice: false, zero: false, reverse: true },
            axis: { tickCount: 4, format: "d" },
          },
          color: {
            field: "v",
            type: "quantitative",
            scale: { domain: [low, high], range: [...map.stops(33)], interpolate: "rgb" },
            legend,
          },
        },
      },
      {
        data: {
          values: [
            {
              url: dataUrl(
                encodePng(
                  box.width * factor,
                  box.height * factor,
                  enlarge(rgba, box.width, box.height, factor),
                  4,
                ),
              ),
            },
          ],
        },
        mark: {
          type: "image",
          width,
          height,
          align: "left",
          baseline: "top",
          aspect: false,
          smooth: false,
          aria: false,
        },
        encoding: { url: { field: "url", type: "nominal" }, x: { value: 0 }, y: { value: 0 } },
      },
    ],
  };
}

const CONFIG: Spec = {
  font: FIGURE_FONT,
  background: "white",
  padding: 8,
  view: { stroke: "#888" },
  title: { fontSize: 13, fontWeight: "normal", anchor: "start" },
  axis: { labelFontSize: 10, titleFontSize: 10, grid: false },
  legend: { labelFontSize: 10, titleFontSize: 10 },
};

/** A complete figure of panels in rows (each row side by side), each with its own colour bar. */
export function figureSpec(rows: readonly (readonly Spec[])[], title?: string): Spec {
  const independent = {
    scale: { x: "independent", y: "independent", color: "independent" },
    legend: { color: "independent" },
  };
  const body =
    rows.length === 1 && rows[0]!.length === 1
      ? rows[0]![0]!
      : { vconcat: rows.map((row) => ({ hconcat: [...row], resolve: independent })), resolve: independent };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    ...(title ? { title: { text: title, fontSize: 14, anchor: "start" } } : {}),
    ...body,
    config: CONFIG,
  };
}

/** Options shared by the reconstruction figures. */
export interface ReconstructionImageOptions {
  readonly width: number;
  readonly height: number;
  /** The scanned region (non-zero inside): the figure shows its bounding box, and only it is coloured. */
  readonly mask: ArrayLike<number>;
  readonly title?: string;
}

/** One image panel over the scanned region, in a figure of its own (the region is checked first). */
function singlePanelSpec(
  values: ArrayLike<number>,
  options: ReconstructionImageOptions,
  panel: () => Omit<ImagePanel, "image" | "box" | "mask">,
): Spec {
  const { width, height, mask } = options;
  const box = regionBox(mask, width, height);
  return figureSpec([[imagePanelSpec({ ...panel(), image: { width, height, values }, box, mask })]]);
}

/** The amplitude over the scanned region, viridis from its 1st to its 99th percentile. */
export function amplitudeFigureSpec(amplitude: ArrayLike<number>, options: ReconstructionImageOptions): Spec {
  return singlePanelSpec(amplitude, options, () => ({
    title: options.title ?? "amplitude",
    colormap: "viridis",
    domain: quantileDomain(amplitude, options.mask),
    colorbarTitle: "amplitude",
  }));
}

/** The phase over the scanned region on a cyclic map over [-pi, pi] (a phase wraps, and so do its colours). */
export function phaseFigureSpec(phase: ArrayLike<number>, options: ReconstructionImageOptions): Spec {
  return singlePanelSpec(phase, options, () => ({
    title: options.title ?? "phase",
    colormap: "sinebow",
    domain: [-Math.PI, Math.PI],
    colorbarTitle: "phase (rad)",
    radians: true,
  }));
}

/** Amplitude and phase of one object. */
export interface ObjectImages {
  readonly amplitude: ArrayLike<number>;
  readonly phase: ArrayLike<number>;
}

/** Wraps an angle into [-pi, pi). */
export function wrapPhase(angle: number): number {
  return angle - 2 * Math.PI * Math.floor((angle + Math.PI) / (2 * Math.PI));
}

/**
 * Truth | reconstruction | error, amplitude in the first row and phase in the second, over the
 * scanned region. The reconstruction must already be aligned to the truth (global phase offset
 * removed, amplitude scaled), as the scores are. Truth and reconstruction share one amplitude range
 * (the 1st-99th percentile of both); the phase error is wrapped into [-pi, pi).
 */
export function comparisonFigureSpec(
  truth: ObjectImages,
  reconstruction: ObjectImages,
  options: ReconstructionImageOptions,
): Spec {
  const { width, height, mask } = options;
  const n = width * height;
  for (const [what, values] of [
    ["truth amplitude", truth.amplitude],
    ["truth phase", truth.phase],
    ["reconstructed amplitude", reconstruction.amplitude],
    ["reconstructed phase", reconstruction.phase],
  ] as const)
    checkImage({ width, height, values }, `comparisonFigureSpec: ${what}`);
  const box = regionBox(mask, width, height);
  const ampError = new Float64Array(n);
  const phaseError = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    ampError[k] = reconstruction.amplitude[k]! - truth.amplitude[k]!;
    phaseError[k] = wrapPhase(reconstruction.phase[k]! - truth.phase[k]!);
  }
  const both = new Float64Array(2 * n);
  both.set(Float64Array.from(truth.amplitude), 0);
  both.set(Float64Array.from(reconstruction.amplitude), n);
  const bothMask = new Uint8Array(2 * n);
  for (let k = 0; k < n; k++) bothMask[k] = bothMask[n + k] = mask[k] ? 1 : 0;
  const amplitudeDomain = quantileDomain(both, bothMask);
  // Centred on zero, out to the 99th percentile of the error's size over the region.
  const symmetric = (values: Float64Array, cap?: number): [number, number] => {
    const sizes: number[] = [];
    for (let k = 0; k < n; k++) if (mask[k] && Number.isFinite(values[k])) sizes.push(Math.abs(values[k]!));
    sizes.sort((a, b) => a - b);
    const m = Math.max(sizes[Math.min(sizes.length - 1, Math.floor(0.99 * sizes.length))] ?? 0, 1e-12);
    const limit = cap === undefined ? m : Math.min(m, cap);
    return [-limit, limit];
  };
  const panel = (
    title: string,
    values: ArrayLike<number>,
    rest: Omit<ImagePanel, "title" | "image" | "box" | "mask">,
  ) => imagePanelSpec({ title, image: { width, height, values }, box, mask, ...rest });
  const amplitude = { colormap: "viridis", domain: amplitudeDomain, colorbarTitle: "amplitude" } as const;
  const phase = {
    colormap: "sinebow",
    domain: [-Math.PI, Math.PI],
    colorbarTitle: "phase (rad)",
    radians: true,
  } as const;
  return figureSpec(
    [
      [
        panel("truth amplitude", truth.amplitude, amplitude),
        panel("reconstructed amplitude", reconstruction.amplitude, amplitude),
        panel("amplitude error", ampError, {
          colormap: "redblue",
          domain: symmetric(ampError),
          colorbarTitle: "error",
        }),
      ],
      [
        panel("truth phase", truth.phase, phase),
        panel("reconstructed phase", reconstruction.phase, phase),
        panel("phase error", phaseError, {
          colormap: "redblue",
          domain: symmetric(phaseError, Math.PI),
          colorbarTitle: "error (rad)",
        }),
      ],
    ],
    options.title,
  );
}
