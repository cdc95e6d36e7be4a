// The loss curve of a training run as a vega-lite spec: train and validation loss per epoch, and
// the learning rate below on the same epoch axis. When the losses are large numbers that change
// little (a Poisson NLL in photon counts: -3,741,944 then -3,745,556), or train and validation sit
// far apart (they are sums over different data), each series is drawn as its change since its first
// epoch, so the tick labels are short and distinct and both curves use the whole height.
import { FigureError } from "./errors.ts";
import { FIGURE_FONT } from "./render.ts";

/** One epoch as the engine logs it (`metrics.csv`): `epoch`, `train_loss`, `val_loss`, `lr`. */
export type EpochMetrics = Readonly<Record<string, number | undefined>>;

/** How the loss axis shows the values. */
export type LossAxisMode = "absolute" | "change";

/** Options of {@link lossCurveSpec}. */
export interface LossCurveOptions {
  /** `auto` (the default) picks `change` when absolute values would hide the progress. */
  readonly mode?: LossAxisMode | "auto";
  readonly title?: string;
}

const SERIES = [
  { key: "train_loss", name: "train" },
  { key: "val_loss", name: "validation" },
] as const;

const COLORS = { train: "#1f77b4", validation: "#ff7f0e" } as const;

/** `-3741944.47` -> `−3,741,944`: seven significant digits, grouped, a true minus sign. */
export function formatLoss(value: number): string {
  return new Intl.NumberFormat("en-US", { maximumSignificantDigits: 7 }).format(value).replace("-", "−");
}

/** A domain around a constant value (one epoch): vega would draw a scale of zero width. */
function flatDomain(values: readonly number[]): { domain?: [number, number] } {
  const lo = Math.min(...values);
  if (Math.max(...values) > lo) return {};
  const pad = Math.max(Math.abs(lo) * 0.05, 1e-3);
  return { domain: [lo - pad, lo + pad] };
}

/** The mode `auto` picks for these series (each the finite values of one loss, in epoch order). */
export function chooseLossAxisMode(series: readonly (readonly number[])[]): LossAxisMode {
  const all = series.flat();
  if (all.length === 0) return "absolute";
  const magnitude = Math.max(...all.map(Math.abs));
  const span = Math.max(...all) - Math.min(...all);
  const ownSpan = Math.max(...series.filter((s) => s.length > 0).map((s) => Math.max(...s) - Math.min(...s)));
  // Nothing changes (one epoch, or a constant loss): the values themselves say most.
  if (ownSpan === 0) return "absolute";
  // Every tick label would repeat the same leading digits, or the curves sit far apart and each looks flat.
  return ownSpan < 0.1 * magnitude || span > 3 * ownSpan ? "change" : "absolute";
}

/**
 * A vega-lite spec of the loss per epoch (train, and validation when logged) with the learning rate
 * in a panel below. Throws `INVALID_INPUT` when no epoch has a finite training loss.
 */
export function lossCurveSpec(
  history: readonly EpochMetrics[],
  options: LossCurveOptions = {},
): Record<string, unknown> {
  const present = SERIES.map((s) => ({
    ...s,
    points: history.flatMap((h, i) => {
      const value = h[s.key];
      return typeof value === "number" && Number.isFinite(value) ? [{ epoch: h.epoch ?? i, value }] : [];
    }),
  })).filter((s) => s.points.length > 0);
  if (!present.some((s) => s.key === "train_loss"))
    throw new FigureError(
      "INVALID_INPUT",
      `lossCurveSpec: no epoch of the ${history.length} given has a finite train_loss.`,
    );
  const mode =
    options.mode === undefined || options.mode === "auto"
      ? chooseLossAxisMode(present.map((s) => s.points.map((p) => p.value)))
      : options.mode;
  const rows = present.flatMap((s) => {
    const first = s.points[0]!;
    return s.points.map((p) => ({
      epoch: p.epoch,
      series: s.name,
      loss: p.value,
      change: p.value - first.value,
    }));
  });
  const epochs = history.map((h, i) => h.epoch ?? i);
  const firstEpoch = Math.min(...epochs);
  const lastEpoch = Math.max(...epochs, firstEpoch + 1);
  const x = {
    field: "epoch",
    type: "quantitative",
    title: "epoch",
    scale: { domain: [firstEpoch, lastEpoch], nice: false, zero: false },
    axis: { tickMinStep: 1, format: "d" },
  };
  const firstEpochOf = (name: string) => present.find((s) => s.name === name)!.points[0]!;
  const subtitle =
    mode === "change"
      ? [
          "each loss minus its value at its first epoch:",
          present
            .map(
              (s) =>
                `${s.name} ${formatLoss(firstEpochOf(s.name).value)} at epoch ${firstEpochOf(s.name).epoch}`,
            )
            .join(", "),
        ]
      : undefined;
  const names = present.map((s) => s.name);
  const loss = {
    width: 520,
    height: 260,
    title: subtitle
      ? { text: options.title ?? "loss per epoch", subtitle }
      : (options.title ?? "loss per epoch"),
    data: { values: rows },
    mark: { type: "line", point: { size: 20 }, strokeWidth: 2 },
    encoding: {
      x,
      y: {
        field: mode === "change" ? "change" : "loss",
        type: "quantitative",
        title: mode === "change" ? "change in loss since the first epoch" : "loss",
        scale: { zero: false, ...flatDomain(rows.map((r) => (mode === "change" ? r.change : r.loss))) },
        axis: { tickCount: 6 },
      },
      color: {
        field: "series",
        type: "nominal",
        title: null,
        scale: { domain: names, range: names.map((n) => COLORS[n]) },
        legend: { orient: "top-right" },
      },
    },
  };
  const lrRows = history.flatMap((h, i) =>
    typeof h.lr === "number" && Number.isFinite(h.lr) && h.lr > 0 ? [{ epoch: h.epoch ?? i, lr: h.lr }] : [],
  );
  const lrs = lrRows.map((r) => r.lr);
  const logScale = lrs.length > 0 && Math.max(...lrs) / Math.min(...lrs) >= 10;
  const lr = {
    width: 520,
    height: 90,
    title: "learning rate",
    data: { values: lrRows },
    mark: {
      type: "line",
      point: { size: 12, color: "#555" },
      color: "#555",
      strokeWidth: 1.5,
      interpolate: "step-after",
    },
    encoding: {
      x,
      y: {
        field: "lr",
        type: "quantitative",
        title: "lr",
        scale: logScale ? { type: "log" } : { zero: true },
        axis: { tickCount: 3, format: "~g" },
      },
    },
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    ...(lrRows.length > 0 ? { vconcat: [loss, lr], spacing: 16 } : loss),
    config: {
      font: FIGURE_FONT,
      background: "white",
      padding: 8,
      title: {
        fontSize: 13,
        fontWeight: "normal",
        anchor: "start",
        subtitleFontSize: 10,
        subtitleColor: "#555",
      },
      axis: { labelFontSize: 10, titleFontSize: 10, gridColor: "#e6e6e6" },
      legend: { labelFontSize: 11 },
    },
  };
}
