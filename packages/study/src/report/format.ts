import type { AxisValue, MetricName } from "../types.ts";

/** How each metric is called in results.csv. */
export const METRIC_COLUMNS = {
  trainLoss: "train_loss",
  valLoss: "val_loss",
  amplitudePsnr: "amplitude_psnr",
  amplitudeSsim: "amplitude_ssim",
  phasePsnr: "phase_psnr",
  phaseSsim: "phase_ssim",
} as const satisfies Record<MetricName, string>;

/** How each metric is called in tables, plot titles and axis titles. */
export const METRIC_LABELS = {
  trainLoss: "train loss",
  valLoss: "validation loss",
  amplitudePsnr: "amplitude PSNR (dB)",
  amplitudeSsim: "amplitude SSIM",
  phasePsnr: "phase PSNR (dB)",
  phaseSsim: "phase SSIM",
} as const satisfies Record<MetricName, string>;

/** The metric's label without its unit: `amplitude PSNR`. */
export function metricTitle(metric: MetricName): string {
  return METRIC_LABELS[metric].replace(/ \(.*\)$/, "");
}

export function directionText(mode: "max" | "min"): string {
  return mode === "max" ? "higher is better" : "lower is better";
}

/** `1e4`, `2.5e-5`, `0.25`, `128`: exponent form for very large or small magnitudes. */
export function formatNumber(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  const abs = Math.abs(x);
  if (abs !== 0 && (abs >= 1e5 || abs < 1e-3 || (abs >= 1e4 && Number.isInteger(x)))) {
    return x.toExponential().replace("e+", "e");
  }
  return String(x);
}

/** A statistic for a table: 4 significant digits. */
export function formatStat(x: number | null): string {
  if (x === null) return "–";
  return formatNumber(Number(x.toPrecision(4)));
}

/** An axis value as tables, legends and tick labels show it. */
export function formatAxisValue(value: AxisValue | undefined): string {
  if (value === undefined) return "–";
  if (value === null) return "null";
  if (typeof value === "number") return formatNumber(value);
  return String(value);
}

export function formatPercent(rate: number): string {
  return `${Number((rate * 100).toPrecision(3))}%`;
}

/** A file-name-safe slug: `training.nphotons` -> `training-nphotons`. */
export function slug(text: string): string {
  const s = text
    .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return s === "" ? "x" : s;
}
