import { describe, expect, it } from "vitest";
import { isLoopError } from "../../src/loop/errors.ts";
import { resolveMonitor } from "../../src/loop/monitor.ts";
import { caught, messageOf } from "./helpers.ts";

describe("resolveMonitor", () => {
  it("maps val_loss to the engine's validation metric when there is validation data", () => {
    expect(
      resolveMonitor("val_loss", {
        hasValidation: true,
        metricNames: ["poisson_train_loss", "poisson_val_loss"],
      }),
    ).toEqual({
      name: "poisson_val_loss",
      warning: null,
    });
    expect(
      resolveMonitor("val_loss", { hasValidation: true, metricNames: ["train_loss", "val_loss"] }).name,
    ).toBe("val_loss");
  });

  it("falls back to the training metric with a warning without validation data", () => {
    expect(
      resolveMonitor("val_loss", { hasValidation: false, metricNames: ["train_loss"] }),
    ).toMatchInlineSnapshot(`
      {
        "name": "train_loss",
        "warning": "checkpointMonitor "val_loss" needs validation data, which this run has none of; monitoring "train_loss" instead (pass validation data or set checkpointMonitor to silence this).",
      }
    `);
    expect(
      resolveMonitor("val_loss", { hasValidation: false, metricNames: ["poisson_train_loss"] }).name,
    ).toBe("poisson_train_loss");
    expect(
      resolveMonitor("train_loss", { hasValidation: false, metricNames: ["train_loss"] }).warning,
    ).toBeNull();
  });

  it("rejects an unknown metric with UNKNOWN_MONITOR listing the available names", async () => {
    const error = await caught(() =>
      resolveMonitor("val_acc", { hasValidation: true, metricNames: ["val_loss", "train_loss"] }),
    );
    expect(isLoopError(error, "UNKNOWN_MONITOR")).toBe(true);
    expect(messageOf(error)).toMatchInlineSnapshot(
      `"checkpointMonitor: "val_acc" is not a metric this run logs; available: train_loss, val_loss."`,
    );
  });
});
