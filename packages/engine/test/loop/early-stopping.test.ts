import { describe, expect, it } from "vitest";
import { createEarlyStopping } from "../../src/loop/early-stopping.ts";
import type { MonitorMode } from "../../src/loop/monitor.ts";

describe("createEarlyStopping", () => {
  function stopEpoch(metrics: number[], patience: number, mode: MonitorMode, minDelta = 0): number | null {
    const es = createEarlyStopping({ patience, mode, minDelta });
    for (const [epoch, m] of metrics.entries()) if (es.update(m, epoch).stop) return epoch;
    return null;
  }

  it("stops at the exact epoch after patience epochs without improvement", () => {
    expect(stopEpoch([1, 0.9, 0.95, 0.91, 0.92, 0.5], 3, "min")).toBe(4);
    expect(stopEpoch([1, 0.9, 0.95, 0.8, 0.92, 0.93], 3, "min")).toBeNull();
    expect(stopEpoch([0.1, 0.2, 0.2, 0.2], 2, "max")).toBe(3);
    expect(stopEpoch([1, 1, 1], 1, "min")).toBe(1);
  });

  it("counts only improvements larger than minDelta", () => {
    expect(stopEpoch([1, 0.99, 0.98, 0.97], 2, "min", 0.05)).toBe(2);
  });

  it("stops at once on a non-finite metric, saying why", () => {
    const es = createEarlyStopping({ patience: 10, mode: "min" });
    es.update(1, 0);
    expect(es.update(Number.NaN, 1)).toMatchInlineSnapshot(`
      {
        "improved": false,
        "reason": "the monitored metric is NaN at epoch 1; stopping (a non-finite loss does not recover).",
        "stop": true,
      }
    `);
    expect(es.stoppedEpoch).toBe(1);
  });

  it("continues after a state round trip", () => {
    const a = createEarlyStopping({ patience: 2, mode: "min" });
    a.update(1, 0);
    a.update(2, 1);
    const b = createEarlyStopping({ patience: 2, mode: "min" });
    b.setState(JSON.parse(JSON.stringify(a.getState())));
    expect(b.update(3, 2).stop).toBe(true);
  });
});
