import { describe, expect, it } from "vitest";
import { NO_METRICS } from "../src/results.ts";
import { computeStatistics, studentTCdf, studentTQuantile, summarize } from "../src/statistics.ts";
import type { JobMetrics, ResultRow } from "../src/types.ts";
import { DOSE_OPTIONS, reportFixture } from "./helpers.ts";

/** A result row with the given fields; the variation is the label unless given. */
function row(fields: Partial<ResultRow> & { index: number }): ResultRow {
  const label = fields.label ?? `job${fields.index}`;
  return {
    label,
    variation: label,
    name: null,
    axes: {},
    repeat: null,
    fold: null,
    status: "succeeded",
    attempts: 1,
    exitCode: 0,
    durationSeconds: 1,
    metrics: NO_METRICS,
    runDir: `jobs/${fields.index}-${label}`,
    payloadSha256: "0".repeat(64),
    ...fields,
  };
}

/** Every number anywhere in a value. */
function numbersIn(value: unknown, out: number[] = []): number[] {
  if (typeof value === "number") out.push(value);
  else if (Array.isArray(value)) for (const v of value) numbersIn(v, out);
  else if (value !== null && typeof value === "object")
    for (const v of Object.values(value)) numbersIn(v, out);
  return out;
}

describe("studentTQuantile", () => {
  it("gives the textbook two-sided 95% critical values", () => {
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(12.706, 3);
    expect(studentTQuantile(0.975, 2)).toBeCloseTo(4.303, 3);
    expect(studentTQuantile(0.975, 4)).toBeCloseTo(2.776, 3);
    expect(studentTQuantile(0.975, 9)).toBeCloseTo(2.262, 3);
    expect(studentTQuantile(0.975, 30)).toBeCloseTo(2.042, 3);
  });

  it("agrees with scipy.stats.t.ppf to 1e-9 across p and df", () => {
    // Reference values from scipy 1.x, stats.t.ppf(p, df).
    const reference: [p: number, df: number, t: number][] = [
      [0.975, 3, 3.1824463052837078],
      [0.975, 7, 2.364624251592784],
      [0.975, 10, 2.228138851986274],
      [0.975, 30, 2.0422724563012378],
      [0.975, 1000, 1.9623390808264083],
      [0.995, 5, 4.032142983555228],
      [0.95, 1, 6.313751514675043],
      [0.9995, 3, 12.923978636687961],
      [0.975, 2.5, 3.5746548420036817],
      [0.999999, 7, 14.241469651921154],
    ];
    for (const [p, df, t] of reference) {
      expect(Math.abs(studentTQuantile(p, df) - t), `t(${p}, ${df})`).toBeLessThan(1e-9 * t);
    }
  });

  it("is odd around the median and inverts the CDF", () => {
    expect(studentTQuantile(0.5, 6)).toBe(0);
    expect(studentTQuantile(0.025, 4)).toBeCloseTo(-2.776445105197793, 12);
    for (const df of [1, 2, 3, 5.5, 17, 250]) {
      for (const p of [0.001, 0.1, 0.6, 0.9, 0.975, 0.9999]) {
        expect(studentTCdf(studentTQuantile(p, df), df)).toBeCloseTo(p, 12);
      }
    }
  });

  it("is NaN outside its domain", () => {
    expect(studentTQuantile(0, 3)).toBeNaN();
    expect(studentTQuantile(1, 3)).toBeNaN();
    expect(studentTQuantile(0.975, 0)).toBeNaN();
    expect(studentTQuantile(Number.NaN, 3)).toBeNaN();
  });
});

describe("summarize", () => {
  it("computes n, mean, median, sample std, min, max and the t interval by hand", () => {
    // mean 5, median (4 + 5) / 2, sum of squares 32, std sqrt(32 / 7), t(0.975, 7) = 2.3646...
    const s = summarize([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(s.n).toBe(8);
    expect(s.mean).toBe(5);
    expect(s.median).toBe(4.5);
    expect(s.std).toBeCloseTo(Math.sqrt(32 / 7), 14);
    expect(s.min).toBe(2);
    expect(s.max).toBe(9);
    expect(s.ci95?.halfWidth).toBeCloseTo(1.7874879182362098, 10);
    expect(s.ci95?.low).toBeCloseTo(5 - 1.7874879182362098, 10);
    expect(s.ci95?.high).toBeCloseTo(5 + 1.7874879182362098, 10);
  });

  it("takes the middle value as the median of an odd count, whatever the order", () => {
    expect(summarize([9, 1, 5]).median).toBe(5);
  });

  it("has no std and no interval for one value, and nothing for none", () => {
    expect(summarize([3.5])).toEqual({
      n: 1,
      nonFinite: 0,
      mean: 3.5,
      median: 3.5,
      std: null,
      min: 3.5,
      max: 3.5,
      ci95: null,
    });
    expect(summarize([null, null])).toEqual({
      n: 0,
      nonFinite: 0,
      mean: null,
      median: null,
      std: null,
      min: null,
      max: null,
      ci95: null,
    });
  });

  it("leaves NaN and infinities out and counts them", () => {
    const s = summarize([1, Number.NaN, Number.POSITIVE_INFINITY, 3, null]);
    expect(s).toMatchObject({ n: 2, nonFinite: 2, mean: 2, min: 1, max: 3 });
  });
});

describe("computeStatistics", () => {
  const rows = reportFixture();
  const stats = computeStatistics(rows, DOSE_OPTIONS);

  it("summarises each variation over its repeats, counting succeeded jobs only", () => {
    expect(stats.summary).toEqual({
      jobs: 12,
      variations: 6,
      succeeded: 10,
      notSucceeded: 2,
      failureRate: 2 / 12,
      statusCounts: { succeeded: 10, failed: 1, timeout: 1 },
    });
    const best = stats.variations.find((v) => v.variation === "nphotons=1e9,loss=nll");
    expect(best?.jobs).toEqual([8, 9]);
    expect(best?.metrics.amplitudePsnr.mean).toBeCloseTo(28.05, 12);
    expect(best?.metrics.amplitudePsnr.std).toBeCloseTo(0.3535533905932738, 12);
    expect(best?.metrics.amplitudePsnr.ci95?.halfWidth).toBeCloseTo(3.1765511840436735, 9);
    // Job 11 failed: its variation has one job toward the metric, and the failure is counted.
    const half = stats.variations.find((v) => v.variation === "nphotons=1e9,loss=mae");
    expect(half?.statusCounts).toEqual({ succeeded: 1, failed: 1 });
    expect(half?.metrics.amplitudePsnr).toMatchObject({ n: 1, mean: 26.5, std: null, ci95: null });
  });

  it("leaves the metrics a failed job reported out of every statistic", () => {
    const withFailedMetric = rows.map((r) =>
      r.status === "succeeded" ? r : { ...r, metrics: { ...r.metrics, amplitudePsnr: 1000 } },
    );
    expect(computeStatistics(withFailedMetric, DOSE_OPTIONS)).toEqual(stats);
  });

  it("ranks variations by the metric in the chosen direction", () => {
    expect(stats.ranking.map((r) => [r.rank, r.variation])).toEqual([
      [1, "nphotons=1e9,loss=nll"],
      [2, "nphotons=1e9,loss=mae"],
      [3, "nphotons=1e6,loss=nll"],
      [4, "nphotons=1e6,loss=mae"],
      [5, "nphotons=1e4,loss=nll"],
      [6, "nphotons=1e4,loss=mae"],
    ]);
    const lowest = computeStatistics(rows, { ...DOSE_OPTIONS, metric: "valLoss", mode: "min" });
    expect(lowest.ranking[0]?.statistics.mean).toBe(
      Math.min(...lowest.variations.map((v) => v.metrics.valLoss.mean ?? Number.POSITIVE_INFINITY)),
    );
  });

  it("puts variations without the metric last, unranked, and keeps ties in variation order", () => {
    const metrics = (amplitudePsnr: number | null): JobMetrics => ({ ...NO_METRICS, amplitudePsnr });
    const tie = [
      row({ index: 0, label: "a", metrics: metrics(null) }),
      row({ index: 1, label: "b", metrics: metrics(20) }),
      row({ index: 2, label: "c", metrics: metrics(30) }),
      row({ index: 3, label: "d", metrics: metrics(20) }),
      row({ index: 4, label: "e", status: "failed", metrics: metrics(99) }),
    ];
    const s = computeStatistics(tie, { ...DOSE_OPTIONS, axes: [] });
    expect(s.ranking.map((r) => [r.rank, r.variation])).toEqual([
      [1, "c"],
      [2, "b"],
      [3, "d"],
      [null, "a"],
      [null, "e"],
    ]);
    const min = computeStatistics(tie, { ...DOSE_OPTIONS, axes: [], mode: "min" });
    expect(min.ranking.map((r) => r.variation)).toEqual(["b", "d", "c", "a", "e"]);
  });

  it("gives main effects per axis value over all succeeded jobs having it, in axis order", () => {
    const dose = stats.axisEffects[0];
    expect(dose?.axis).toBe("training.nphotons");
    expect(dose?.levels.map((l) => l.value)).toEqual([1e4, 1e6, 1e9]);
    const low = dose?.levels[0];
    // 1e4: nll 18.2, 18.9 and mae 17.1 succeeded; mae rep 2 timed out.
    expect(low?.metrics.amplitudePsnr.n).toBe(3);
    expect(low?.metrics.amplitudePsnr.mean).toBeCloseTo(18.066666666666666, 12);
    expect(low?.metrics.amplitudePsnr.std).toBeCloseTo(0.9073771725877451, 12);
    expect(low?.metrics.amplitudePsnr.ci95?.halfWidth).toBeCloseTo(2.2540498532066056, 9);
    expect(stats.axisEffects[1]?.levels.map((l) => l.value)).toEqual(["nll", "mae"]);
  });

  it("counts every job that did not succeed in the failure rate of its axis values", () => {
    const loss = stats.axisEffects[1]?.levels;
    expect(loss?.map((l) => [l.value, l.jobs, l.notSucceeded, l.failureRate, l.statusCounts])).toEqual([
      ["nll", 6, 0, 0, { succeeded: 6 }],
      ["mae", 6, 2, 2 / 6, { succeeded: 4, failed: 1, timeout: 1 }],
    ]);
    const dose = stats.axisEffects[0]?.levels;
    expect(dose?.map((l) => l.failureRate)).toEqual([0.25, 0, 0.25]);
  });

  it("tells 1e4 and '1e4' apart and skips jobs that do not have the axis", () => {
    const mixed = [
      row({ index: 0, axes: { x: 10000 } }),
      row({ index: 1, axes: { x: "1e4" } }),
      row({ index: 2, axes: {} }),
      row({ index: 3, axes: { x: 10000 }, status: "failed" }),
    ];
    const s = computeStatistics(mixed, { ...DOSE_OPTIONS, axes: ["x"] });
    expect(s.axisEffects[0]?.levels.map((l) => [l.value, l.jobs])).toEqual([
      [10000, 2],
      ["1e4", 1],
    ]);
  });

  it("writes no NaN or infinity into the JSON, whatever the metrics were", () => {
    const bad = [
      row({ index: 0, label: "v", metrics: { ...NO_METRICS, trainLoss: Number.NaN, amplitudePsnr: 1 } }),
      row({ index: 1, label: "v", metrics: { ...NO_METRICS, trainLoss: Number.POSITIVE_INFINITY } }),
      row({ index: 2, label: "w", metrics: { ...NO_METRICS, valLoss: Number.NEGATIVE_INFINITY } }),
      row({ index: 3, label: "w", metrics: { ...NO_METRICS, valLoss: 1e308, phaseSsim: -1e308 } }),
      row({ index: 4, label: "w", metrics: { ...NO_METRICS, valLoss: 1e308, phaseSsim: 1e308 } }),
    ];
    const s = computeStatistics(bad, { ...DOSE_OPTIONS, metric: "trainLoss" });
    const all = numbersIn(s);
    expect(all.length).toBeGreaterThan(20);
    expect(all.filter((x) => !Number.isFinite(x))).toEqual([]);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    expect(JSON.stringify(s)).not.toMatch(/NaN|Infinity/);
    expect(s.variations[0]?.metrics.trainLoss).toMatchObject({ n: 0, nonFinite: 2, mean: null });
    // 1e308 + 1e308 overflows: the mean is not finite, so it is null rather than Infinity.
    expect(s.variations[1]?.metrics.valLoss.mean).toBeNull();
  });

  it("does not depend on the order the rows come in", () => {
    const shuffled = [...rows].reverse();
    shuffled.push(shuffled.splice(3, 1)[0] as ResultRow);
    expect(JSON.stringify(computeStatistics(shuffled, DOSE_OPTIONS))).toBe(JSON.stringify(stats));
  });

  it("records the time only when it is given", () => {
    expect("generatedAt" in stats).toBe(false);
    const timed = computeStatistics(rows, { ...DOSE_OPTIONS, generatedAt: "2025-01-02T03:04:05Z" });
    expect(timed.generatedAt).toBe("2025-01-02T03:04:05Z");
  });
});
