// Real runs of the embedded engine through the installed command: success, Ctrl-C (a real SIGINT to
// the child process) and --resume, which must end byte-identical to an uninterrupted run.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { readModelBundle } from "@trainkit/data";
import { describe, expect, it } from "vitest";
import { readCheckpoint } from "../packages/engine/src/loop/checkpoint-file.ts";
import { modelVariableShapes } from "../packages/engine/src/shapes.ts";
import { HAS_NUMPY, python } from "../packages/engine/test/loop/helpers.ts";
import { writeDataset } from "../packages/factory/test/helpers.ts";
import { MODEL_DEFAULTS } from "../packages/training-config/src/index.ts";
import { BINS, run, tempDir } from "./helpers.ts";

const dir = tempDir("trainkit-run-");
const train = await writeDataset(join(dir, "train.npz"), { N: 64, M: 24 });
const args = (out: string) => [
  "--train-data-file",
  train,
  "--n-groups",
  "24",
  "--output-dir",
  out,
  "--nepochs",
  "4",
  "--batch-size",
  "8",
  "--n-filters-scale",
  "1",
  "--seed",
  "3",
  "--checkpoint-monitor",
  "train_loss",
];
const weightsOf = async (out: string) =>
  (await readModelBundle(out, { weights: true })).weights.get("weights/weights.npz");
const manifestOf = (out: string) => JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));

describe("a training run", () => {
  it("trains, writes the run directory and the bundle, and is deterministic for a seed", async () => {
    const a = join(dir, "a");
    const b = join(dir, "b");
    for (const out of [a, b]) {
      const result = run("train", args(out), { timeout: 120_000 });
      expect(result.status, result.stderr).toBe(0);
    }
    for (const file of [
      "payload.json",
      "audit.json",
      "legacy-params.json",
      "manifest.json",
      "model.zip",
      "checkpoints/last.ckpt",
    ]) {
      expect(existsSync(join(a, file)), file).toBe(true);
    }
    expect(manifestOf(a)).toMatchObject({
      status: "succeeded",
      exitCode: 0,
      // the bundled command starts the threaded WebAssembly build (one XNNPACK thread per core, at most 8)
      details: { computeBackend: "wasm", computeThreads: Math.min(8, availableParallelism()), epochsRun: 4 },
    });
    expect(Buffer.compare(Buffer.from((await weightsOf(a))!), Buffer.from((await weightsOf(b))!))).toBe(0);
  }, 180_000);

  it("stops cleanly on Ctrl-C (exit 130, manifest interrupted) and resumes to the same weights", async () => {
    const reference = join(dir, "a");
    const out = join(dir, "interrupted");
    const child = spawn(process.execPath, [BINS.train, ...args(out)], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += String(chunk);
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    // Wait until the first epoch's checkpoint exists, then interrupt mid-run.
    const deadline = Date.now() + 60_000;
    while (!existsSync(join(out, "checkpoints/last.ckpt")) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGINT");
    expect(await exited, stderr).toBe(130);
    expect(manifestOf(out)).toMatchObject({ status: "interrupted", exitCode: 130 });
    expect(existsSync(join(out, "model.zip"))).toBe(false);

    const resumed = run("train", [...args(out), "--resume"], { timeout: 120_000 });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain("resuming from");
    expect(manifestOf(out)).toMatchObject({ status: "succeeded" });
    expect(
      Buffer.compare(Buffer.from((await weightsOf(out))!), Buffer.from((await weightsOf(reference))!)),
    ).toBe(0);
    // The last checkpoints agree too: every array (weights and optimizer slots) and every small state.
    const { wallTime: _a, ...resumedLast } = await readCheckpoint(join(out, "checkpoints/last.ckpt"));
    const { wallTime: _b, ...referenceLast } = await readCheckpoint(join(reference, "checkpoints/last.ckpt"));
    expect(resumedLast).toEqual(referenceLast);
  }, 180_000);

  it.skipIf(!HAS_NUMPY)(
    "writes a checkpoint and bundle weights that numpy.load opens, by variable name",
    () => {
      const a = join(dir, "a");
      const seen = python(
        `def view(z):
    return {
        "arrays": {k: list(z[k].shape) for k in z.files if k != "_metadata"},
        "dtypes": sorted({str(z[k].dtype) for k in z.files if k != "_metadata"}),
        "metadata": json.loads(str(z["_metadata"])),
    }
checkpoint = np.load(sys.argv[1], allow_pickle=False)
weights = np.load(io.BytesIO(zipfile.ZipFile(sys.argv[2]).read("weights/weights.npz")), allow_pickle=False)
print(json.dumps({"checkpoint": view(checkpoint), "weights": view(weights)}))`,
        join(a, "checkpoints/last.ckpt"),
        join(a, "model.zip"),
      ) as Record<
        "checkpoint" | "weights",
        { arrays: Record<string, number[]>; dtypes: string[]; metadata: Record<string, unknown> }
      >;
      const variables = Object.fromEntries(
        modelVariableShapes({ ...MODEL_DEFAULTS, N: 64, nFiltersScale: 1 }).map((v) => [
          v.name,
          [...v.shape],
        ]),
      );
      expect(seen.weights.arrays).toEqual(variables);
      expect(seen.weights.dtypes).toEqual(["float32"]);
      expect(Object.keys(seen.weights.metadata).sort()).toEqual([
        "format",
        "formatVersion",
        "intensityScale",
        "meanTotalIntensity",
      ]);
      const { arrays, metadata } = seen.checkpoint;
      const slots = Object.keys(arrays).filter((k) => k.startsWith("optimizer/"));
      expect(Object.fromEntries(Object.entries(arrays).filter(([k]) => !k.startsWith("optimizer/")))).toEqual(
        variables,
      );
      // Adam's two moments of every trainable variable, each shaped like its variable.
      expect(slots.length).toBeGreaterThan(0);
      for (const slot of slots) {
        const variable = slot.replace(/^optimizer\/adam\.[mv]\//, "");
        expect(arrays[slot], slot).toEqual(variables[variable]);
      }
      expect(metadata).toMatchObject({
        format: "trainkit-checkpoint",
        formatVersion: 1,
        epoch: 3,
        monitor: "train_loss",
      });
      expect(Object.keys(metadata).sort()).toMatchInlineSnapshot(`
        [
          "earlyStopping",
          "epoch",
          "format",
          "formatVersion",
          "metric",
          "metrics",
          "monitor",
          "optimizer",
          "rng",
          "scheduler",
          "step",
          "wallTime",
        ]
      `);
    },
  );
});
