import { normalizeIds } from "@trainkit/figures";

/**
 * An SVG ready to inline in HTML: the namespace declarations go (the HTML parser puts `<svg>` in the
 * SVG namespace by itself, and the page then names no URL at all) and ids get a per-figure prefix.
 */
export function inlineSvg(svg: string, prefix: string): string {
  return normalizeIds(svg, prefix)
    .replace(/\s+xmlns(:[a-z]+)?="[^"]*"/g, "")
    .replace(/xlink:href=/g, "href=");
}
