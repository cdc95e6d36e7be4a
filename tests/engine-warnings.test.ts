// The engine's warnings reach the user through the run's IO: the command shows them with its own
// name, as it shows its other warnings.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeDataset } from "../packages/factory/test/helpers.ts";
import { run, tempDir } from "./helpers.ts";

describe("trainkit-train", () => {
  it("shows the engine's warnings as its own (the monitor's fallback, --resume with nothing to resume)", async () => {
    const dir = tempDir("trainkit-warnings-");
    const train = await writeDataset(join(dir, "train.npz"), { N: 64, M: 8 });
    const out = join(dir, "run");
    const args = [
      ...["--train-data-file", train, "--n-groups", "8", "--output-dir", out, "--nepochs", "1"],
      ...["--batch-size", "8", "--n-filters-scale", "1", "--checkpoint-monitor", "val_loss"],
      "--disable-checkpointing",
    ];
    const warningsOf = (stderr: string) => stderr.split("\n").filter((line) => line.includes("warning:"));
    const monitor = /^trainkit-train: warning: checkpointMonitor "val_loss" needs validation data/;
    const first = run("train", args, { timeout: 120_000 });
    expect(first.status, first.stderr).toBe(0);
    expect(warningsOf(first.stderr)).toEqual([expect.stringMatching(monitor)]);
    // A run without checkpoints continued with --resume: nothing to resume from.
    const again = run("train", [...args, "--resume"], { timeout: 120_000 });
    expect(again.status, again.stderr).toBe(0);
    expect(warningsOf(again.stderr)).toEqual([
      expect.stringMatching(monitor),
      expect.stringMatching(
        /^trainkit-train: warning: --resume: no .*last\.ckpt yet; starting from the beginning$/,
      ),
    ]);
  }, 180_000);
});
