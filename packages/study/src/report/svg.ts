/**
 * Compiles a vega-lite spec and renders it to SVG text, headless (no canvas, no DOM). The libraries'
 * warnings go to `warnings` (nothing is printed); a spec that makes any is a bug of ours, which the
 * tests catch.
 */
export async function renderSvg(spec: Record<string, unknown>, warnings: string[] = []): Promise<string> {
  // Loaded on first use: the CLI starts without paying for the plotting libraries.
  const [vega, vegaLite] = await Promise.all([import("vega"), import("vega-lite")]);
  const logger = vega.logger(vega.Warn, "warn", (method, _level, args) => {
    const text = args.map(String).join(" ");
    if (method === "error") throw new Error(text);
    warnings.push(text);
  });
  const compiled = vegaLite.compile(spec as unknown as Parameters<typeof vegaLite.compile>[0], {
    logger,
  }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none", logger });
  try {
    return normalizeIds(await view.toSVG(), "f");
  } finally {
    view.finalize();
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

/**
 * An SVG ready to inline in HTML: the namespace declarations go (the HTML parser puts `<svg>` in the
 * SVG namespace by itself, and the page then names no URL at all) and ids get a per-figure prefix.
 */
export function inlineSvg(svg: string, prefix: string): string {
  return normalizeIds(svg, prefix)
    .replace(/\s+xmlns(:[a-z]+)?="[^"]*"/g, "")
    .replace(/xlink:href=/g, "href=");
}
