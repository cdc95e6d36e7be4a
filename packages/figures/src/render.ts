// Rendering: a vega-lite spec to SVG text (vega, headless: no canvas, no DOM) and SVG text to PNG
// (resvg). The libraries are imported on first use, so that loading this package costs nothing
// until a figure is drawn.
import { FigureError } from "./errors.ts";

/**
 * The font every figure names. DejaVu Sans is what the PNG renderer looks for first (it is on the
 * Debian-based machines this project runs on); an SVG viewer without it uses its own sans-serif.
 */
export const FIGURE_FONT = "DejaVu Sans, Verdana, Helvetica, Arial, sans-serif";

/** Options of {@link renderSvg}. */
export interface RenderSvgOptions {
  /** Receives the libraries' warnings (none are printed); a spec of ours that makes any is a bug. */
  readonly warnings?: string[];
  /** Prefix of the SVG's ids (`<prefix>1`, `<prefix>2`, ...); `f` by default. */
  readonly idPrefix?: string;
}

/**
 * Compiles a vega-lite spec and renders it to SVG text. The ids of the SVG are numbered in order of
 * appearance ({@link normalizeIds}), so the same spec gives the same text in any process.
 */
export async function renderSvg(
  spec: Readonly<Record<string, unknown>>,
  options: RenderSvgOptions = {},
): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import("vega"), import("vega-lite")]);
  const warnings = options.warnings ?? [];
  const logger = vega.logger(vega.Warn, "warn", (method, _level, args) => {
    const text = args.map(String).join(" ");
    if (method === "error") throw new FigureError("RENDER_FAILED", `vega: ${text}`);
    warnings.push(text);
  });
  let view: InstanceType<typeof vega.View> | undefined;
  try {
    const compiled = vegaLite.compile(spec as unknown as Parameters<typeof vegaLite.compile>[0], {
      logger,
    }).spec;
    view = new vega.View(vega.parse(compiled), { renderer: "none", logger });
    return normalizeIds(await view.toSVG(), options.idPrefix ?? "f");
  } catch (error) {
    if (error instanceof FigureError) throw error;
    throw new FigureError(
      "RENDER_FAILED",
      `vega-lite could not render the figure: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  } finally {
    view?.finalize();
  }
}

/** Options of {@link renderPng}. */
export interface RenderPngOptions {
  /** Pixels per SVG unit (2 by default: sharp on high-density screens and in slides). */
  readonly scale?: number;
  /** Font files (`.ttf`, `.otf`, `.ttc`) to use besides the system's fonts. */
  readonly fontFiles?: readonly string[];
  /** Whether to load the system's fonts (true by default). Without fonts, text is not drawn. */
  readonly loadSystemFonts?: boolean;
}

/**
 * Renders SVG text to a PNG file's bytes with resvg. Text is drawn with DejaVu Sans when the system
 * has it (or a font of `fontFiles`), else with the first sans-serif font resvg finds.
 */
export async function renderPng(svg: string, options: RenderPngOptions = {}): Promise<Uint8Array> {
  const scale = options.scale ?? 2;
  if (!(scale > 0 && scale <= 16))
    throw new FigureError("INVALID_INPUT", `renderPng: scale must be in (0, 16], got ${scale}.`);
  const { Resvg } = await import("@resvg/resvg-js");
  try {
    const image = new Resvg(svg, {
      fitTo: { mode: "zoom", value: scale },
      font: {
        loadSystemFonts: options.loadSystemFonts ?? true,
        fontFiles: [...(options.fontFiles ?? [])],
        defaultFontFamily: "DejaVu Sans",
        sansSerifFamily: "DejaVu Sans",
      },
    }).render();
    return new Uint8Array(image.asPng());
  } catch (error) {
    throw new FigureError("RENDER_FAILED", `resvg could not render the SVG: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * Renames every `id` of an SVG, in order of appearance, to `<prefix><k>` and rewrites its
 * references (`url(#id)`, `href="#id"`): the text then depends on nothing but the figure (vega
 * numbers clip paths and gradients from a process-wide counter), and several SVGs inlined in one
 * HTML page cannot collide.
 */
export function normalizeIds(svg: string, prefix: string): string {
  const ids = new Map<string, string>();
  for (const m of svg.matchAll(/\sid="([^"]+)"/g)) {
    const id = m[1] as string;
    if (!ids.has(id)) ids.set(id, `${prefix}${ids.size + 1}`);
  }
  if (ids.size === 0) return svg;
  return svg
    .replace(/(\sid=")([^"]+)(")/g, (_, a: string, id: string, b: string) => a + (ids.get(id) ?? id) + b)
    .replace(/url\(#([^)]+)\)/g, (all, id: string) => (ids.has(id) ? `url(#${ids.get(id)})` : all))
    .replace(/(href=")#([^"]+)(")/g, (all, a: string, id: string, b: string) =>
      ids.has(id) ? `${a}#${ids.get(id)}${b}` : all,
    );
}
