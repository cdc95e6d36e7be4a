import { renderSvg } from "@trainkit/figures";
import { beforeAll, describe, expect, it } from "vitest";
import { metricFigureSpec, wrap, xScaleFor } from "../src/report/figures.ts";
import { renderReport, resultsCsv } from "../src/report.ts";
import { NO_METRICS } from "../src/results.ts";
import { computeStatistics, type ReportOptions } from "../src/statistics.ts";
import type { ResultRow } from "../src/types.ts";
import { DOSE_OPTIONS, reportFixture } from "./helpers.ts";

const rows = reportFixture();

const OPTIONS = DOSE_OPTIONS;

// ---------------------------------------------------------------------------------------------
// A small XML reader: enough to check an SVG is well formed and to walk its elements.

interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
  text: string;
}

function parseXml(xml: string): XmlElement {
  const root: XmlElement = { name: "#root", attrs: {}, children: [], text: "" };
  const stack: XmlElement[] = [root];
  const token = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"]*")*)\s*(\/?)>|([^<]+)/gy;
  let at = 0;
  for (let m = token.exec(xml); m !== null; m = token.exec(xml)) {
    at = token.lastIndex;
    const [, close, name, attrText, selfClose, text] = m;
    const top = stack[stack.length - 1] as XmlElement;
    if (text !== undefined) {
      top.text += text;
      continue;
    }
    if (close === "/") {
      if (top.name !== name) throw new Error(`</${name}> closes <${top.name}>`);
      stack.pop();
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of (attrText ?? "").matchAll(/([\w:.-]+)="([^"]*)"/g)) {
      if ((a[1] as string) in attrs) throw new Error(`duplicate attribute ${a[1]}`);
      attrs[a[1] as string] = a[2] as string;
    }
    const el: XmlElement = { name: name as string, attrs, children: [], text: "" };
    top.children.push(el);
    if (selfClose !== "/") stack.push(el);
  }
  if (at !== xml.length) throw new Error(`not XML at ${at}: ${xml.slice(at, at + 40)}`);
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1]?.name}>`);
  return root;
}

function* walk(el: XmlElement): Generator<XmlElement> {
  yield el;
  for (const c of el.children) yield* walk(c);
}

/** The children of the mark group whose class names `className` (e.g. `points_marks`). */
function marks(svg: XmlElement, className: string): XmlElement[] {
  const groups = [...walk(svg)].filter((e) => (e.attrs.class ?? "").split(" ").includes(className));
  return groups.flatMap((g) => g.children);
}

/** Text elements of a role (`role-axis-label`, `role-title-text`, ...) with their translate x. */
function texts(svg: XmlElement, role: string): { text: string; x: number; y: number }[] {
  const groups = [...walk(svg)].filter((e) => (e.attrs.class ?? "").split(" ").includes(role));
  return groups.flatMap((g) =>
    g.children.map((t) => {
      const m = /translate\(([-\d.e]+),([-\d.e]+)\)/.exec(t.attrs.transform ?? "");
      const text = t.text + t.children.map((span) => span.text).join(" ");
      return { text, x: Number(m?.[1]), y: Number(m?.[2]) };
    }),
  );
}

/** `loss = nll; mean = 18.55; n = 2` -> { loss: "nll", mean: "18.55", n: "2" } */
function ariaFields(el: XmlElement): Record<string, string> {
  return Object.fromEntries(
    (el.attrs["aria-label"] ?? "").split("; ").map((kv) => {
      const i = kv.indexOf(" = ");
      return [kv.slice(0, i), kv.slice(i + 3)];
    }),
  );
}

// ---------------------------------------------------------------------------------------------

describe("resultsCsv", () => {
  it("writes one row per job in index order with the axis columns after name", () => {
    const csv = resultsCsv([...rows].reverse(), OPTIONS.axes);
    const lines = csv.split("\n");
    expect(lines[0]).toBe(
      "index,label,name,training.nphotons,loss,repeat,fold,status,attempts,exit_code,duration_s," +
        "train_loss,val_loss,amplitude_psnr,amplitude_ssim,phase_psnr,phase_ssim,run_dir,payload_sha256",
    );
    expect(lines).toHaveLength(14); // header, 12 jobs, the final newline
    expect(lines[13]).toBe("");
    // Quoted because the label holds commas; null name, fold and metrics are empty cells.
    expect(lines[4]).toBe(
      `3,"nphotons=1e4,loss=mae,rep=2",,10000,mae,2,,timeout,1,,600,,,,,,,"jobs/3-nphotons=1e4,loss=mae,rep=2",03${"ab".repeat(31)}`,
    );
    expect(lines[1]?.split('"')[2]).toBe(
      ",,10000,nll,1,,succeeded,1,0,41.5,0.91,0.962,18.2,0.525,15.1,0.404,",
    );
  });

  it("quotes commas, double quotes and line breaks as RFC 4180 says", () => {
    const tricky: ResultRow = {
      ...(rows[0] as ResultRow),
      label: 'say "hi"',
      name: "two\nlines",
      axes: { view: "a,b", flag: true, none: null },
      runDir: "plain",
      metrics: { ...NO_METRICS, trainLoss: Number.NaN, valLoss: Number.POSITIVE_INFINITY, phaseSsim: -0 },
    };
    const csv = resultsCsv([tricky], ["view", "flag", "none", "absent"]);
    expect(csv.split("\n").slice(1).join("\n")).toBe(
      `0,"say ""hi""","two\nlines","a,b",true,,,1,,succeeded,1,0,41.5,NaN,inf,,,,0,plain,00${"ab".repeat(31)}\n`,
    );
  });
});

describe("xScaleFor", () => {
  it("draws positive numbers over more than 2 decades on a log scale", () => {
    expect(xScaleFor([1e4, 1e6, 1e9])).toBe("log");
    expect(xScaleFor([1, 100])).toBe("linear");
    expect(xScaleFor([1, 101])).toBe("log");
    expect(xScaleFor([0, 1e6])).toBe("linear");
    expect(xScaleFor([1, "a"])).toBe("ordinal");
    expect(xScaleFor([5])).toBe("ordinal");
  });
});

describe("wrap", () => {
  it("breaks text into lines of at most the width, between words", () => {
    expect(wrap("aaa bbb ccc ddd", 7)).toEqual(["aaa bbb", "ccc ddd"]);
    expect(wrap("averyveryverylongword x", 5)).toEqual(["averyveryverylongword", "x"]);
  });
});

describe("renderReport", () => {
  const stats = computeStatistics(rows, OPTIONS);
  let report: Awaited<ReturnType<typeof renderReport>>;
  beforeAll(async () => {
    report = await renderReport(rows, stats, OPTIONS);
  });
  const figure = (name: string): XmlElement => {
    const f = report.figures.find((x) => x.name === name);
    if (!f) throw new Error(`no figure ${name}; have ${report.figures.map((x) => x.name).join(", ")}`);
    return parseXml(f.svg);
  };

  it("draws the ranking metric and the quality metrics with data over each axis, then the failures", () => {
    expect(report.figures.map((f) => f.name)).toEqual([
      "amplitude-psnr-vs-training-nphotons",
      "amplitude-psnr-vs-loss",
      "amplitude-ssim-vs-training-nphotons",
      "amplitude-ssim-vs-loss",
      "phase-psnr-vs-training-nphotons",
      "phase-psnr-vs-loss",
      "phase-ssim-vs-training-nphotons",
      "phase-ssim-vs-loss",
      "failure-rate",
    ]);
    for (const f of report.figures) expect(() => parseXml(f.svg), f.name).not.toThrow();
  });

  it("puts one point per dose and loss at the mean, with error bars where n >= 2", () => {
    const svg = figure("amplitude-psnr-vs-training-nphotons");
    const points = marks(svg, "points_marks");
    expect(points).toHaveLength(6);
    const described = points.map(ariaFields);
    const at = (dose: string, loss: string) =>
      described.find((d) => d["training.nphotons"] === dose && d.loss === loss);
    expect(Number(at("1e4", "nll")?.mean)).toBeCloseTo(18.55, 12);
    expect(at("1e4", "nll")?.n).toBe("2");
    expect(Number(at("1e9", "mae")?.mean)).toBe(26.5);
    expect(at("1e9", "mae")?.n).toBe("1");
    const means = described.map((d) => Number(Number(d.mean).toFixed(6))).sort((a, b) => a - b);
    expect(means).toEqual([17.1, 18.55, 22.45, 23.7, 26.5, 28.05]);
    // Two variations have a single succeeded job: no interval for them.
    expect(marks(svg, "bars_layer_2_marks")).toHaveLength(4);
    expect(marks(svg, "lines_marks")).toHaveLength(2);
    // One colour per loss, named in the legend in axis order.
    const legend = texts(svg, "role-legend-label").map((t) => t.text);
    expect(legend).toEqual(["nll", "mae"]);
    expect(new Set(points.map((p) => p.attrs.fill)).size).toBe(2);
    expect(texts(svg, "role-legend-title").map((t) => t.text)).toEqual(["loss"]);
  });

  it("spaces photon doses on a log axis labelled as the study writes them", () => {
    const svg = figure("amplitude-psnr-vs-training-nphotons");
    const labels = texts(svg, "role-axis-label");
    const x = (text: string): number => labels.find((l) => l.text === text)?.x ?? Number.NaN;
    // log10: 4, 6, 9 -> (6 - 4) / (9 - 4) of the way.
    expect((x("1e6") - x("1e4")) / (x("1e9") - x("1e4"))).toBeCloseTo(0.4, 2);
    const titles = texts(svg, "role-axis-title").map((t) => t.text);
    expect(titles).toEqual(expect.arrayContaining(["training.nphotons", "amplitude PSNR (dB)"]));
    expect(texts(svg, "role-title-text").map((t) => t.text)).toEqual(["amplitude PSNR vs training.nphotons"]);
  });

  it("keeps a non-numeric axis in the order of the study, not alphabetical", () => {
    const svg = figure("amplitude-psnr-vs-loss");
    const labels = texts(svg, "role-axis-label").filter((l) => l.text === "nll" || l.text === "mae");
    expect(labels.map((l) => l.text)).toEqual(["nll", "mae"]);
    expect((labels[0]?.x ?? 0) < (labels[1]?.x ?? 0)).toBe(true);
    expect(marks(svg, "points_marks")).toHaveLength(6);
    expect(texts(svg, "role-legend-label").map((t) => t.text)).toEqual(["1e4", "1e6", "1e9"]);
  });

  it("draws a bar per axis value and status that did not succeed", () => {
    const svg = figure("failure-rate");
    const bars = [...walk(svg)]
      .filter((e) => / role-mark failures_/.test(e.attrs.class ?? ""))
      .flatMap((g) => g.children);
    // 1e4 timeout, 1e9 failed, mae failed, mae timeout.
    expect(bars).toHaveLength(4);
    expect(texts(svg, "role-legend-label").map((t) => t.text)).toEqual(["failed", "timeout"]);
  });

  it("has no failure chart when every job succeeded", async () => {
    const ok = rows.filter((r) => r.status === "succeeded");
    const r = await renderReport(ok, computeStatistics(ok, OPTIONS), OPTIONS);
    expect(r.figures.map((f) => f.name)).not.toContain("failure-rate");
    expect(r.markdown).toContain("Every job succeeded (10 jobs).");
  });

  it("makes specs the plotting libraries accept without a warning", async () => {
    const axis = (name: string) => ({
      name,
      get: (row: ResultRow) => row.axes[name],
    });
    for (const [x, c] of [
      ["training.nphotons", "loss"],
      ["loss", "training.nphotons"],
    ] as const) {
      const spec = metricFigureSpec(rows, "amplitudePsnr", axis(x), axis(c), []);
      const warnings: string[] = [];
      await renderSvg(spec as Record<string, unknown>, { warnings });
      expect(warnings).toEqual([]);
    }
    const single = metricFigureSpec(rows, "phaseSsim", axis("training.nphotons"), null, ["loss"]);
    const warnings: string[] = [];
    const svg = parseXml(await renderSvg(single as Record<string, unknown>, { warnings }));
    expect(warnings).toEqual([]);
    expect(marks(svg, "points_marks")).toHaveLength(3);
    expect(
      texts(svg, "role-title-subtitle")
        .map((t) => t.text)
        .join(" "),
    ).toContain("averaged over loss");
  });

  it("writes markdown with the summary, ranking, main effects, failures and figure links", () => {
    const md = report.markdown;
    expect(md.startsWith("# Study dose\n")).toBe(true);
    expect(md).toContain(
      "**12 jobs** in 6 variations over 2 axes (`training.nphotons`, `loss`): 10 succeeded, 1 failed, 1 timeout.",
    );
    expect(md).toContain(
      "| 1 | nphotons=1e9,loss=nll | 1e9 | nll | 2 | 28.05 ± 3.177 | 0.3536 | 27.8 | 28.3 |",
    );
    expect(md).toContain("| 1e4 | 4 | 3 | 3 | 18.07 ± 2.254 | 0.9074 | 17.1 | 18.9 |");
    expect(md).toContain("| loss | mae | 6 | 2 | 33.3% | 4 succeeded, 1 failed, 1 timeout |");
    expect(md).toContain("| 11 | nphotons=1e9,loss=mae,rep=2 | failed | 2 | 1 |");
    for (const f of report.figures) expect(md).toContain(`](figures/${f.name}.svg)`);
    expect(md).not.toMatch(/NaN|Infinity|undefined/);
  });

  it("matches the committed sample report", async () => {
    await expect(report.markdown).toMatchFileSnapshot("./fixtures/report/dose-report.md");
  });

  it("writes a self-contained HTML page: inline SVG and CSS, no script, no URL", () => {
    const html = report.html;
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html).not.toMatch(/https?:|\/\/[a-z]/i);
    expect(html).not.toMatch(/<script|<link|<iframe|<img|\ssrc=|@import/i);
    expect([...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1])).toEqual([]);
    expect([...html.matchAll(/url\(([^)]*)\)/g)].every((m) => m[1]?.startsWith("#"))).toBe(true);
    expect(html.match(/<svg[\s>]/g)).toHaveLength(report.figures.length);
    expect(html).toContain("<style>");
    expect(html).toContain('<td class="num">28.05 ± 3.177</td>');
    // Every inline SVG is still well formed.
    for (const svg of html.match(/<svg[\s\S]*?<\/svg>/g) ?? []) expect(() => parseXml(svg)).not.toThrow();
  });

  it("escapes study names and values in HTML and markdown", async () => {
    const odd: ResultRow[] = rows.map((r) => ({ ...r, axes: { ...r.axes, loss: `<b>${r.axes.loss}|x` } }));
    const options = { ...OPTIONS, studyName: "a<script>&" };
    const r = await renderReport(odd, computeStatistics(odd, options), options);
    expect(r.html).not.toContain("<b>");
    expect(r.html).not.toContain("<script");
    expect(r.html).toContain("&lt;b&gt;nll|x");
    expect(r.markdown).toContain("\\<b\\>nll\\|x");
  });

  it("gives the same bytes for the same study, whatever the row order, durations or run directories", async () => {
    const again = await renderReport(
      [...rows].reverse(),
      computeStatistics([...rows].reverse(), OPTIONS),
      OPTIONS,
    );
    expect(again.markdown).toBe(report.markdown);
    expect(again.html).toBe(report.html);
    expect(again.figures).toEqual(report.figures);
    // The same study run by another executor: other durations and directories, same results.
    const elsewhere = rows.map((r) => ({
      ...r,
      durationSeconds: (r.durationSeconds ?? 0) * 3 + 7,
      runDir: `/scratch/slurm/${r.index}`,
    }));
    const other = await renderReport(elsewhere, computeStatistics(elsewhere, OPTIONS), OPTIONS);
    expect(other.markdown).toBe(report.markdown);
    expect(other.html).toBe(report.html);
    expect(report.markdown).not.toMatch(/\d{4}-\d\d-\d\dT/);
  });

  it("writes the time only when it is given", async () => {
    const options = { ...OPTIONS, generatedAt: "2025-06-01T12:00:00Z" };
    const r = await renderReport(rows, computeStatistics(rows, options), options);
    expect(r.markdown).toContain("Generated 2025-06-01T12:00:00Z.");
    expect(r.html).toContain("Generated 2025-06-01T12:00:00Z.");
  });

  it("plots over the variations when the study has no axes, and says when nothing can be ranked", async () => {
    const jobs: ResultRow[] = [
      { ...(rows[0] as ResultRow), index: 0, variation: "cnn", label: "cnn,rep=1", axes: {} },
      { ...(rows[1] as ResultRow), index: 1, variation: "cnn", label: "cnn,rep=2", axes: {} },
      { ...(rows[2] as ResultRow), index: 2, variation: "pinn", label: "pinn,rep=1", axes: {} },
    ];
    const options: ReportOptions = { ...OPTIONS, axes: [] };
    const r = await renderReport(jobs, computeStatistics(jobs, options), options);
    expect(r.figures.map((f) => f.name)).toContain("amplitude-psnr-vs-variation");
    const svg = parseXml(r.figures[0]?.svg ?? "");
    expect(marks(svg, "points_marks")).toHaveLength(2);
    expect(marks(svg, "bars_layer_2_marks")).toHaveLength(1);
    const none = jobs.map((j) => ({ ...j, metrics: NO_METRICS }));
    const empty = await renderReport(none, computeStatistics(none, options), options);
    expect(empty.figures).toEqual([]);
    expect(empty.markdown).toContain(
      "No succeeded job recorded amplitude PSNR (`amplitudePsnr`): there is nothing to rank.",
    );
  });
});
