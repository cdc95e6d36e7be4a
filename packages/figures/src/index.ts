export {
  type ApplyColormapOptions,
  applyColormap,
  type Colormap,
  type ColormapName,
  colormap,
} from "./colormap.ts";
export { FigureError, type FigureErrorCode, isFigureError } from "./errors.ts";
export {
  amplitudeFigureSpec,
  comparisonFigureSpec,
  figureSpec,
  type ImageGrid,
  type ImagePanel,
  imagePanelSpec,
  type ObjectImages,
  phaseFigureSpec,
  type ReconstructionImageOptions,
  wrapPhase,
} from "./images.ts";
export {
  chooseLossAxisMode,
  type EpochMetrics,
  formatLoss,
  type LossAxisMode,
  type LossCurveOptions,
  lossCurveSpec,
} from "./loss-curve.ts";
export { encodePng } from "./png.ts";
export { cropToBox, type PixelBox, quantileDomain, regionBox } from "./region.ts";
export {
  FIGURE_FONT,
  normalizeIds,
  type RenderPngOptions,
  type RenderSvgOptions,
  renderPng,
  renderSvg,
} from "./render.ts";
