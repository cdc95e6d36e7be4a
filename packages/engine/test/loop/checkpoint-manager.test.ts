import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readCheckpoint, type TrainingState } from "../../src/loop/checkpoint-file.ts";
import { checkpointFileName, createCheckpointManager } from "../../src/loop/checkpoint-manager.ts";
import { isLoopError } from "../../src/loop/errors.ts";
import type { MonitorMode } from "../../src/loop/monitor.ts";
import { caught, messageOf, tempDir } from "./helpers.ts";

/** A small training state whose weights say which epoch wrote it. */
const stateAt = (epoch: number): Omit<TrainingState, "epoch" | "step"> => ({
  model: [{ name: "w", shape: [2], data: Float32Array.of(epoch, epoch + 0.5) }],
  optimizer: { step: epoch, "momentum/w": Float32Array.of(-epoch, 0) },
  scheduler: { lr: 0.1 },
  earlyStopping: { best: null, wait: 0, stoppedEpoch: null },
  rng: { seed: 1, draws: epoch },
});

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
        ...stateAt(epoch),
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
    expect(last).toMatchObject({ epoch: 4, step: 50, monitor: "val_loss", metric: 0.6, rng: { draws: 4 } });
    expect(last.model[0]?.data).toEqual(Float32Array.of(4, 4.5));
    // A ranked file holds the same bytes as last.ckpt of its epoch.
    const best = await readCheckpoint(join(dir, "epoch=03-val_loss=0.3000.ckpt"));
    expect({ epoch: best.epoch, w: best.model[0]?.data }).toEqual({ epoch: 3, w: Float32Array.of(3, 3.5) });
    expect(files(dir).some((f) => f.includes(".tmp-"))).toBe(false);
  });

  it("keeps every epoch with -1 and only last.ckpt with 0 (which needs no monitored metric)", async () => {
    const all = join(tempDir(), "checkpoints");
    const m = await createCheckpointManager({ dir: all, monitor: "val_loss", mode: "max", saveTopK: -1 });
    for (let e = 0; e < 3; e++) await m.save({ epoch: e, step: e, metrics: { val_loss: e }, ...stateAt(e) });
    expect(files(all).filter((f) => f.startsWith("epoch="))).toHaveLength(3);
    expect(m.best.map((x) => x.epoch)).toEqual([2, 1, 0]);

    const none = join(tempDir(), "checkpoints");
    const n = await createCheckpointManager({ dir: none, monitor: "val_loss", mode: "min", saveTopK: 0 });
    for (let e = 0; e < 3; e++) await n.save({ epoch: e, step: e, metrics: {}, ...stateAt(e) });
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
    expect(await m.save({ epoch: 0, step: 1, metrics: { val_loss: 1 }, ...stateAt(0) })).toEqual({
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
            await m.save({ epoch, step: epoch, metrics: { loss }, ...stateAt(epoch) });
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
    await first.save({ epoch: 0, step: 1, metrics: { val_loss: 0.2 }, ...stateAt(0) });
    await first.save({ epoch: 1, step: 2, metrics: { val_loss: 0.1 }, ...stateAt(1) });

    const resumed = await createCheckpointManager({ dir, monitor: "val_loss", mode: "min", saveTopK: 2 });
    expect(resumed.best.map((e) => e.epoch)).toEqual([1, 0]);
    expect(resumed.lastPath).toBe(join(dir, "last.ckpt"));
    const r = await resumed.save({ epoch: 2, step: 3, metrics: { val_loss: 0.15 }, ...stateAt(2) });
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

  it("writes only last.ckpt for an unranked epoch (between validations) and keeps the ranking", async () => {
    const dir = join(tempDir(), "checkpoints");
    const m = await createCheckpointManager({ dir, monitor: "val_loss", mode: "min", saveTopK: 2 });
    await m.save({ epoch: 0, step: 1, metrics: { train_loss: 3 }, unranked: true, ...stateAt(0) });
    expect(files(dir)).toEqual(["index.json", "last.ckpt"]);
    await m.save({ epoch: 1, step: 2, metrics: { train_loss: 2, val_loss: 0.5 }, ...stateAt(1) });
    const r = await m.save({ epoch: 2, step: 3, metrics: { train_loss: 1 }, unranked: true, ...stateAt(2) });
    expect(r).toEqual({ last: join(dir, "last.ckpt"), ranked: null, deleted: [] });
    expect(files(dir)).toEqual(["epoch=01-val_loss=0.5000.ckpt", "index.json", "last.ckpt"]);
    expect(m.best.map((e) => e.epoch)).toEqual([1]);
    const last = await readCheckpoint(join(dir, "last.ckpt"));
    expect(last).toMatchObject({ epoch: 2, monitor: null, metric: null, metrics: { train_loss: 1 } });
    expect("unranked" in last).toBe(false);
  });

  it("fails with MISSING_METRIC naming the logged metrics when the monitor is absent", async () => {
    const dir = join(tempDir(), "checkpoints");
    const m = await createCheckpointManager({ dir, monitor: "val_loss", mode: "min", saveTopK: 1 });
    const error = await caught(() =>
      m.save({ epoch: 0, step: 1, metrics: { train_loss: 1, mae: 2 }, ...stateAt(0) }),
    );
    expect(isLoopError(error, "MISSING_METRIC")).toBe(true);
    expect(messageOf(error)).toMatchInlineSnapshot(
      `"checkpointMonitor "val_loss" was not among the metrics of epoch 0 (mae, train_loss); log it or choose one of those."`,
    );
  });
});
