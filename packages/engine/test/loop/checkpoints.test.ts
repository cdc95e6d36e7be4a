import { createHash } from "node:crypto";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  checkpointFileName,
  createCheckpointManager,
  createEarlyStopping,
  decodeCheckpoint,
  encodeCheckpoint,
  type MonitorMode,
  readCheckpoint,
  resolveMonitor,
} from "../../src/loop/checkpoints.ts";
import { isLoopError } from "../../src/loop/errors.ts";
import { caught, messageOf, tempDir } from "./helpers.ts";

const payload = (epoch: number) => new TextEncoder().encode(`weights of epoch ${epoch}`);

function files(dir: string): string[] {
  return readdirSync(dir).sort();
}

describe("checkpointFileName", () => {
  it("follows Lightning's epoch=NN-metric=value.ckpt pattern", () => {
    expect(checkpointFileName(3, "val_loss", 0.123449)).toBe("epoch=03-val_loss=0.1234.ckpt");
    expect(checkpointFileName(123, "train/loss", null)).toBe("epoch=123-train_loss=nan.ckpt");
  });
});

describe("createCheckpointManager", () => {
  it("keeps last.ckpt plus the k best files and deletes those that fall out (min mode)", async () => {
    const dir = join(tempDir(), "checkpoints");
    const m = await createCheckpointManager({ dir, monitor: "val_loss", mode: "min", saveTopK: 2 });
    const losses = [0.5, 0.4, 0.45, 0.3, 0.6];
    const deleted: string[] = [];
    for (const [epoch, loss] of losses.entries()) {
      const r = await m.save({
        epoch,
        step: (epoch + 1) * 10,
        metrics: { val_loss: loss, train_loss: 1 },
        payload: payload(epoch),
      });
      deleted.push(...r.deleted.map((p) => p.slice(dir.length + 1)));
    }
    expect(files(dir)).toEqual([
      "epoch=01-val_loss=0.4000.ckpt",
      "epoch=03-val_loss=0.3000.ckpt",
      "index.json",
      "last.ckpt",
    ]);
    expect(deleted).toEqual(["epoch=00-val_loss=0.5000.ckpt", "epoch=02-val_loss=0.4500.ckpt"]);
    expect(m.best.map((e) => e.epoch)).toEqual([3, 1]);
    expect(m.bestPath).toBe(join(dir, "epoch=03-val_loss=0.3000.ckpt"));
    const last = await readCheckpoint(join(dir, "last.ckpt"));
    expect(last.header).toMatchObject({ format: 1, epoch: 4, step: 50, monitor: "val_loss", metric: 0.6 });
    expect(new TextDecoder().decode(last.payload)).toBe("weights of epoch 4");
    expect(files(dir).some((f) => f.includes(".tmp-"))).toBe(false);
  });

  it("keeps every epoch with -1 and only last.ckpt with 0 (which needs no monitored metric)", async () => {
    const all = join(tempDir(), "checkpoints");
    const m = await createCheckpointManager({ dir: all, monitor: "val_loss", mode: "max", saveTopK: -1 });
    for (let e = 0; e < 3; e++)
      await m.save({ epoch: e, step: e, metrics: { val_loss: e }, payload: payload(e) });
    expect(files(all).filter((f) => f.startsWith("epoch="))).toHaveLength(3);
    expect(m.best.map((x) => x.epoch)).toEqual([2, 1, 0]);

    const none = join(tempDir(), "checkpoints");
    const n = await createCheckpointManager({ dir: none, monitor: "val_loss", mode: "min", saveTopK: 0 });
    for (let e = 0; e < 3; e++) await n.save({ epoch: e, step: e, metrics: {}, payload: payload(e) });
    expect(files(none)).toEqual(["index.json", "last.ckpt"]);
  });

  it("writes nothing when checkpointing is disabled", async () => {
    const dir = join(tempDir(), "checkpoints");
    const m = await createCheckpointManager({
      dir,
      monitor: "val_loss",
      mode: "min",
      saveTopK: 1,
      enabled: false,
    });
    expect(await m.save({ epoch: 0, step: 1, metrics: { val_loss: 1 }, payload: payload(0) })).toEqual({
      last: null,
      ranked: null,
      deleted: [],
    });
    expect(() => readdirSync(dir)).toThrow();
  });

  it("never keeps more than k files and always keeps the k best (ties keep the older)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.integer({ min: 0, max: 20 }).map((v) => v / 4),
            fc.constant(Number.NaN),
          ),
          {
            minLength: 1,
            maxLength: 12,
          },
        ),
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom<MonitorMode>("min", "max"),
        async (metrics, k, mode) => {
          const dir = join(tempDir(), "checkpoints");
          const m = await createCheckpointManager({ dir, monitor: "loss", mode, saveTopK: k });
          for (const [epoch, loss] of metrics.entries()) {
            await m.save({ epoch, step: epoch, metrics: { loss }, payload: payload(epoch) });
          }
          const ranked = files(dir).filter((f) => f.startsWith("epoch="));
          expect(ranked.length).toBe(Math.min(k, metrics.length));
          // Expected: stable sort by value (NaN last), first k.
          const key = (v: number) => (Number.isNaN(v) ? Number.POSITIVE_INFINITY : mode === "min" ? v : -v);
          const want = metrics
            .map((v, epoch) => ({ v, epoch }))
            .sort((a, b) => key(a.v) - key(b.v) || a.epoch - b.epoch || 0)
            .slice(0, k)
            .map((e) => e.epoch);
          expect(m.best.map((e) => e.epoch).sort((a, b) => a - b)).toEqual(want.sort((a, b) => a - b));
        },
      ),
      { numRuns: 40 },
    );
  });

  it("resumes its ranking from index.json, and warns about listed files that are gone", async () => {
    const dir = join(tempDir(), "checkpoints");
    const first = await createCheckpointManager({ dir, monitor: "val_loss", mode: "min", saveTopK: 2 });
    await first.save({ epoch: 0, step: 1, metrics: { val_loss: 0.2 }, payload: payload(0) });
    await first.save({ epoch: 1, step: 2, metrics: { val_loss: 0.1 }, payload: payload(1) });

    const resumed = await createCheckpointManager({ dir, monitor: "val_loss", mode: "min", saveTopK: 2 });
    expect(resumed.best.map((e) => e.epoch)).toEqual([1, 0]);
    expect(resumed.lastPath).toBe(join(dir, "last.ckpt"));
    const r = await resumed.save({ epoch: 2, step: 3, metrics: { val_loss: 0.15 }, payload: payload(2) });
    expect(r.deleted.map((p) => p.slice(dir.length + 1))).toEqual(["epoch=00-val_loss=0.2000.ckpt"]);

    rmSync(join(dir, "epoch=02-val_loss=0.1500.ckpt"));
    const again = await createCheckpointManager({ dir, monitor: "val_loss", mode: "min", saveTopK: 2 });
    expect(again.best.map((e) => e.epoch)).toEqual([1]);
    expect(again.warnings).toMatchInlineSnapshot(`
      [
        "checkpoint epoch=02-val_loss=0.1500.ckpt is listed in index.json but missing; dropped.",
      ]
    `);
    const changed = await createCheckpointManager({ dir, monitor: "train_loss", mode: "min", saveTopK: 2 });
    expect(changed.best).toEqual([]);
    expect(messageOf(changed.warnings[0], dir)).toMatchInlineSnapshot(
      `"checkpoints in <tmp> were ranked by val_loss (min), now by train_loss (min); the earlier files are kept but no longer ranked."`,
    );
  });

  it("fails with MISSING_METRIC naming the logged metrics when the monitor is absent", async () => {
    const dir = join(tempDir(), "checkpoints");
    const m = await createCheckpointManager({ dir, monitor: "val_loss", mode: "min", saveTopK: 1 });
    const error = await caught(() =>
      m.save({ epoch: 0, step: 1, metrics: { train_loss: 1, mae: 2 }, payload: payload(0) }),
    );
    expect(isLoopError(error, "MISSING_METRIC")).toBe(true);
    expect(messageOf(error)).toMatchInlineSnapshot(
      `"checkpointMonitor "val_loss" was not among the metrics of epoch 0 (mae, train_loss); log it or choose one of those."`,
    );
  });
});

describe("decodeCheckpoint", () => {
  it("round-trips a payload and rejects truncated or damaged files with BAD_CHECKPOINT", async () => {
    const body = new Uint8Array([1, 2, 3, 4, 5]);
    const header = {
      format: 1 as const,
      epoch: 2,
      step: 7,
      monitor: "val_loss",
      metric: 0.5,
      metrics: { val_loss: 0.5 },
      wallTime: 1,
      payloadBytes: 5,
      payloadSha256: createHash("sha256").update(body).digest("hex"),
    };
    const bytes = encodeCheckpoint(header, body);
    expect(decodeCheckpoint(bytes)).toEqual({ header, payload: body });
    const cut = await caught(() => decodeCheckpoint(bytes.slice(0, -1)));
    expect(isLoopError(cut, "BAD_CHECKPOINT")).toBe(true);
    const flipped = bytes.slice();
    flipped[flipped.length - 1]! ^= 1;
    expect(messageOf(await caught(() => decodeCheckpoint(flipped)))).toMatch(/checksum mismatch/);
    const dir = tempDir();
    writeFileSync(join(dir, "x.ckpt"), "not a checkpoint");
    expect(messageOf(await caught(() => readCheckpoint(join(dir, "x.ckpt"))), dir)).toMatchInlineSnapshot(
      `"checkpoint <tmp>/x.ckpt: not a trainkit checkpoint (it does not start with TKCKPT01)."`,
    );
    expect(readFileSync(join(dir, "x.ckpt"), "utf8")).toBe("not a checkpoint");
  });
});

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
