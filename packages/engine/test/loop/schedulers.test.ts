import { EXECUTION_DEFAULTS } from "@trainkit/execution-config";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isLoopError } from "../../src/loop/errors.ts";
import { createScheduler, type SchedulerOptions, scheduledLr } from "../../src/loop/schedulers.ts";
import { caught } from "./helpers.ts";

function options(extra: Partial<SchedulerOptions>): SchedulerOptions {
  return { ...EXECUTION_DEFAULTS, nepochs: 10, ...extra };
}

/** The learning rate of epochs 0..n-1 when stepped with `metrics`. */
function trace(o: SchedulerOptions, n: number, metrics: readonly number[] = []): number[] {
  const s = createScheduler(o);
  const out: number[] = [];
  for (let e = 0; e < n; e++) {
    out.push(s.lr);
    s.step(metrics[e]);
  }
  return out;
}

/** The cosine phase written as the implementation evaluates it: lrMin + ((lr0 - lrMin) * (1 + cos(pi p))) / 2. */
const cosine = (lr0: number, lrMin: number, p: number) =>
  lrMin + ((lr0 - lrMin) * (1 + Math.cos(Math.PI * p))) / 2;

describe("scheduledLr", () => {
  const cases: { name: string; o: Partial<SchedulerOptions>; lr: (e: number) => number }[] = [
    { name: "Default is constant", o: { scheduler: "Default", learningRate: 0.01 }, lr: () => 0.01 },
    {
      name: "Exponential is lr0 * gamma^epoch",
      o: { scheduler: "Exponential", learningRate: 0.01, lrGamma: 0.9 },
      lr: (e) => 0.01 * 0.9 ** e,
    },
    {
      name: "MultiStage multiplies by the factor at each milestone",
      o: { scheduler: "MultiStage", learningRate: 0.01, lrMilestones: [3, 6], lrMilestoneFactor: 0.5 },
      lr: (e) => (e < 3 ? 0.01 : e < 6 ? 0.01 * 0.5 : 0.01 * 0.5 ** 2),
    },
    {
      name: "WarmupCosine warms up linearly, then decays by cosine to lr0 * lrMinRatio at nepochs",
      o: { scheduler: "WarmupCosine", learningRate: 0.01, lrWarmupEpochs: 2, lrMinRatio: 0.1, nepochs: 10 },
      lr: (e) => (e < 2 ? (0.01 * (e + 1)) / 2 : cosine(0.01, 0.01 * 0.1, Math.min(1, (e - 2) / 8))),
    },
    {
      name: "WarmupCosine without warm-up starts at lr0",
      o: { scheduler: "WarmupCosine", learningRate: 0.02, lrWarmupEpochs: 0, lrMinRatio: 0, nepochs: 4 },
      lr: (e) => cosine(0.02, 0, Math.min(1, e / 4)),
    },
  ];
  for (const c of cases) {
    it(`gives the formula per epoch: ${c.name}`, () => {
      const o = options(c.o);
      const want = Array.from({ length: 12 }, (_, e) => c.lr(e));
      expect(Array.from({ length: 12 }, (_, e) => scheduledLr(o, e))).toEqual(want);
      expect(trace(o, 12)).toEqual(want);
    });
  }

  it("pins the WarmupCosine end points", () => {
    const o = options({
      scheduler: "WarmupCosine",
      learningRate: 1,
      lrWarmupEpochs: 3,
      lrMinRatio: 0.25,
      nepochs: 7,
    });
    expect(scheduledLr(o, 0)).toBeCloseTo(1 / 3, 12);
    expect(scheduledLr(o, 2)).toBe(1);
    expect(scheduledLr(o, 3)).toBe(1);
    expect(scheduledLr(o, 7)).toBeCloseTo(0.25, 12);
    expect(scheduledLr(o, 100)).toBeCloseTo(0.25, 12);
  });
});

describe("createScheduler", () => {
  const plateau = (extra: Partial<SchedulerOptions> = {}) =>
    options({
      scheduler: "ReduceLROnPlateau",
      learningRate: 1,
      plateauFactor: 0.5,
      plateauPatience: 2,
      plateauMinLr: 0.1,
      plateauThreshold: 0,
      ...extra,
    });

  it("reduces after more than plateauPatience epochs without improvement (min mode)", () => {
    // Improves at 0, 1; then 3 bad epochs (2, 3, 4): reduce after epoch 4 -> lr of epoch 5 halves.
    const metrics = [5, 4, 4, 4.5, 4.1, 3, 3, 3, 3, 3, 3, 3];
    expect(trace(plateau(), 12, metrics)).toEqual([1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]);
  });

  it("never goes below plateauMinLr", () => {
    expect(trace(plateau({ plateauPatience: 0 }), 6, [1, 1, 1, 1, 1, 1])).toEqual([
      1, 1, 0.5, 0.25, 0.125, 0.1,
    ]);
  });

  it("follows checkpointMode max", () => {
    const metrics = [0.5, 0.6, 0.6, 0.59, 0.58, 0.7];
    expect(trace(plateau({ checkpointMode: "max" }), 6, metrics)).toEqual([1, 1, 1, 1, 1, 0.5]);
  });

  it("counts only relative improvements above plateauThreshold, also for negative losses", () => {
    // best -10, threshold 0.1: an improvement needs < -11.
    const metrics = [-10, -10.5, -10.9, -10.95, -12];
    expect(trace(plateau({ plateauThreshold: 0.1, plateauPatience: 2 }), 5, metrics)).toEqual([
      1, 1, 1, 1, 0.5,
    ]);
  });

  it("treats a non-finite metric as no improvement", () => {
    expect(trace(plateau({ plateauPatience: 0 }), 3, [1, Number.NaN, 0.5])).toEqual([1, 1, 0.5]);
  });

  it("recovers by 1/plateauFactor after more than plateauPatience improving epochs, capped at lr0 (Adaptive)", () => {
    const o = plateau({ scheduler: "Adaptive", plateauPatience: 1 });
    // Epochs 1-2 bad -> 0.5 from epoch 3; 3-4 bad -> 0.25 from epoch 5; then every 2 improving
    // epochs double it (5-6 -> 0.5 from 7; 7-8 -> 1 from 9), never above lr0.
    const metrics = [1, 2, 2, 2, 2, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2];
    expect(trace(o, 13, metrics)).toEqual([1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.5, 0.5, 1, 1, 1, 1]);
  });

  it("needs the metric for the plateau kinds, with MISSING_METRIC", async () => {
    const s = createScheduler(plateau());
    const error = await caught(() => s.step());
    expect(isLoopError(error, "MISSING_METRIC")).toBe(true);
    expect((error as Error).message).toMatchInlineSnapshot(
      `"scheduler "ReduceLROnPlateau": step() needs the monitored metric at the end of every epoch (epoch 0 had none)."`,
    );
    expect(s.needsMetric).toBe(true);
    expect(createScheduler(options({ scheduler: "Exponential" })).needsMetric).toBe(false);
  });

  it("keeps a plateau rate and its counts over epochs without the metric, and steps the others", () => {
    // Patience 1: two non-improving checks reduce the rate, however many unmonitored epochs lie between.
    const s = createScheduler(plateau({ plateauPatience: 1 }));
    const lrs: number[] = [];
    for (const metric of [1, undefined, 2, undefined, undefined, 2, undefined]) {
      if (metric === undefined) s.stepUnmonitored();
      else s.step(metric);
      lrs.push(s.lr);
    }
    expect(lrs).toEqual([1, 1, 1, 1, 1, 0.5, 0.5]);
    expect(s.epoch).toBe(7);
    const exp = createScheduler(options({ scheduler: "Exponential", learningRate: 1, lrGamma: 0.5 }));
    exp.stepUnmonitored();
    exp.step();
    expect(exp.lr).toBe(0.25);
  });

  it("continues identically after a JSON round trip of its state", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(
          "Default",
          "Exponential",
          "MultiStage",
          "WarmupCosine",
          "ReduceLROnPlateau",
          "Adaptive" as const,
        ),
        fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: 2, maxLength: 20 }),
        fc.nat(20),
        (scheduler, metrics, cut) => {
          const o = plateau({ scheduler, lrMilestones: [2, 5], lrWarmupEpochs: 2, plateauPatience: 1 });
          const a = createScheduler(o);
          const split = Math.min(cut, metrics.length);
          for (let i = 0; i < split; i++) a.step(metrics[i]);
          const b = createScheduler(o);
          b.setState(JSON.parse(JSON.stringify(a.getState())));
          for (let i = split; i < metrics.length; i++) {
            expect(b.step(metrics[i])).toBe(a.step(metrics[i]));
          }
          expect(b.getState()).toEqual(a.getState());
        },
      ),
      { numRuns: 80 },
    );
  });

  it("refuses the state of another kind", async () => {
    const a = createScheduler(plateau());
    const b = createScheduler(options({ scheduler: "Default" }));
    expect(isLoopError(await caught(() => b.setState(a.getState())), "INVALID_STATE")).toBe(true);
  });
});
