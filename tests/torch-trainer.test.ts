// The example PyTorch trainer (examples/torch-trainer/train.py): run by hand on payload files built
// by the factory (as the process backend runs it), then once through `trainkit-train --backend
// process`; and a smoke check of the fake upstream CLI (tests/fixtures/fake-ptycho-torch) that the
// process-backend tests rely on. Everything that needs PyTorch is skipped when /usr/bin/python3
// cannot import torch (`apt-get install python3-torch` on Debian).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { assignSpatialFolds, loadNpz, splitFold } from "@trainkit/data";
import { createTrainingPayload, type TrainingPayloadOptions } from "@trainkit/factory";
import { payloadDocument } from "@trainkit/launcher";
import { writeSimulatedDataset } from "@trainkit/simulator";
import { describe, expect, it } from "vitest";
import { type CommandResult, ROOT, run, tempDir } from "./helpers.ts";

const PYTHON = "/usr/bin/python3";
const TRAINER = join(ROOT, "examples/torch-trainer/train.py");
const FAKE_TRAIN = join(ROOT, "tests/fixtures/fake-ptycho-torch/train.py");
const ENV = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" };
const torch = spawnSync(PYTHON, ["-c", "import torch"], { stdio: "ignore", timeout: 60_000 }).status === 0;
// The reason is in the test name only when the test is skipped.
const SKIPPED = torch ? "" : `(skipped: import torch fails for ${PYTHON})`;

const dir = tempDir("trainkit-torch-");
const trainOut = join(dir, "train.npz");
const testOut = join(dir, "test.npz");
if (torch)
  await writeSimulatedDataset({ N: 64, positions: 48, seed: 1, trainOut, testOut, testFraction: 0.25 });

type Execution = NonNullable<TrainingPayloadOptions["execution"]>;
interface Settings {
  readonly model?: NonNullable<TrainingPayloadOptions["overrides"]>["model"];
  readonly training?: NonNullable<TrainingPayloadOptions["overrides"]>["training"];
  readonly execution?: Execution;
}

/** Writes `<dir>/<name>/payload.json` (and legacy-params.json) as a run directory holds them. */
async function writeRun(name: string, settings: Settings = {}): Promise<{ out: string; file: string }> {
  const out = join(dir, name);
  const payload = await createTrainingPayload({
    trainDataFile: trainOut,
    outputDir: out,
    overrides: {
      model: { nFiltersScale: 1, ...settings.model },
      training: { nGroups: 32, nepochs: 3, batchSize: 16, ...settings.training },
    },
    execution: { accelerator: "cpu", seed: 7, ...settings.execution },
  });
  mkdirSync(out, { recursive: true });
  const file = join(out, "payload.json");
  writeFileSync(file, `${JSON.stringify(payloadDocument(payload), null, 2)}\n`);
  writeFileSync(join(out, "legacy-params.json"), `${JSON.stringify(payload.legacy, null, 2)}\n`);
  return { out, file };
}

function python(args: readonly string[], env: Record<string, string> = {}): CommandResult {
  const result = spawnSync(PYTHON, args, { encoding: "utf8", env: { ...ENV, ...env }, timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function train(name: string, settings: Settings = {}): Promise<CommandResult & { out: string }> {
  const { out, file } = await writeRun(name, settings);
  return { out, ...python([TRAINER, "--payload", file]) };
}

function metrics(out: string): Record<string, number>[] {
  const [header, ...rows] = readFileSync(join(out, "metrics.csv"), "utf8").trim().split(/\r?\n/);
  const columns = header!.split(",");
  return rows.map((row) => Object.fromEntries(row.split(",").map((v, i) => [columns[i]!, Number(v)])));
}

/** The largest absolute difference between the tensors of two model.pt state_dicts. */
function weightDistance(a: string, b: string): number {
  const script = [
    "import sys, torch",
    "a, b = (torch.load(p) for p in sys.argv[1:])",
    "assert a.keys() == b.keys()",
    "print(max(float((a[k] - b[k]).abs().max()) for k in a))",
  ].join("\n");
  const result = python(["-c", script, join(a, "model.pt"), join(b, "model.pt")]);
  expect(result.status, result.stderr).toBe(0);
  return Number(result.stdout.trim());
}

describe("fake-ptycho-torch fixture", () => {
  it("prints argparse help listing the upstream flags", () => {
    const result = spawnSync("python3", [FAKE_TRAIN, "--help"], { encoding: "utf8", env: ENV });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain("--train_data_file");
    expect(result.stdout).toContain("--accumulate-grad-batches");
  });
});

describe("examples/torch-trainer", () => {
  it.skipIf(!torch)(
    `trains from TRAINKIT_PAYLOAD: one metrics row and one stdout line per epoch ${SKIPPED}`,
    async () => {
      const { out, file } = await writeRun("env", {
        training: { testDataFile: testOut },
        execution: { scheduler: "Exponential", lrGamma: 0.5, learningRate: 0.002 },
      });
      const result = python([TRAINER], { TRAINKIT_PAYLOAD: file });
      expect(result.status, result.stderr).toBe(0);
      const rows = metrics(out);
      expect(rows.map((r) => [r.epoch, r.lr])).toEqual([
        [0, 0.002],
        [1, 0.001],
        [2, 0.0005],
      ]);
      for (const row of rows) {
        expect(Number.isFinite(row.train_loss) && Number.isFinite(row.val_loss), JSON.stringify(row)).toBe(
          true,
        );
      }
      expect(result.stdout.trim().split("\n")).toHaveLength(3);
      expect(result.stdout).toMatch(/^epoch=2 lr=0\.0005 step=6 train_loss=\S+ val_loss=\S+$/m);
      expect(existsSync(join(out, "model.pt"))).toBe(true);
      expect(existsSync(join(out, "checkpoints/best.pt"))).toBe(true);
    },
    60_000,
  );

  it.skipIf(!torch)(
    `validates every checkValEveryNEpoch epochs and after the last, the plateau counting checks only ${SKIPPED}`,
    async () => {
      const { status, stderr, out } = await train("val-every-2", {
        training: { nepochs: 5, testDataFile: testOut },
        execution: {
          learningRate: 0.001,
          checkValEveryNEpoch: 2,
          scheduler: "ReduceLROnPlateau",
          plateauPatience: 0,
          plateauThreshold: 0.5,
          plateauFactor: 0.5,
        },
      });
      expect(status, stderr).toBe(0);
      const [header, ...rows] = readFileSync(join(out, "metrics.csv"), "utf8").trim().split(/\r?\n/);
      const at = header!.split(",").indexOf("val_loss");
      expect(rows.map((r) => r.split(",")[at] !== "")).toEqual([false, true, false, true, true]);
      // Checks at epochs 1 (the first best) and 3 (not 50% better): the rate halves for epoch 4 only.
      const lrs = metrics(out).map((r) => r.lr!);
      expect(lrs).toEqual([0.001, 0.001, 0.001, 0.001, 0.0005]);
      expect(existsSync(join(out, "checkpoints/best.pt"))).toBe(true);
    },
    60_000,
  );

  const lr0 = 0.001;
  const schedules: readonly (readonly [string, Execution, readonly number[]])[] = [
    [
      "MultiStage",
      { scheduler: "MultiStage", lrMilestones: [1, 3], lrMilestoneFactor: 0.1 },
      [lr0, lr0 * 0.1, lr0 * 0.1, lr0 * 0.01],
    ],
    [
      "WarmupCosine",
      { scheduler: "WarmupCosine", lrWarmupEpochs: 2, lrMinRatio: 0.2 },
      // warm-up lr0 (e + 1) / 2, then lrMin + (lr0 - lrMin) (1 + cos(pi (e - 2) / (4 - 2))) / 2
      [lr0 / 2, lr0, lr0, lr0 * (0.2 + 0.8 * 0.5)],
    ],
    [
      "ReduceLROnPlateau",
      // No epoch beats the best by 50%, so after each epoch past the first the rate halves.
      { scheduler: "ReduceLROnPlateau", plateauPatience: 0, plateauThreshold: 0.5, plateauFactor: 0.5 },
      [lr0, lr0, lr0 / 2, lr0 / 4],
    ],
  ];
  it.skipIf(!torch).each(schedules)(
    `follows the %s schedule in the lr column of metrics.csv ${SKIPPED}`,
    async (name, execution, expected) => {
      const { status, stderr, out } = await train(`lr-${name}`, {
        training: { nepochs: 4 },
        execution: { learningRate: lr0, checkpointMonitor: "train_loss", ...execution },
      });
      expect(status, stderr).toBe(0);
      const lrs = metrics(out).map((r) => r.lr!);
      expect(lrs).toHaveLength(4);
      lrs.forEach((lr, i) => {
        expect(lr).toBeCloseTo(expected[i]!, 12);
      });
    },
    60_000,
  );

  it.skipIf(!torch)(
    `ends accumulateGradBatches 2 x batchSize 8 with the weights of batchSize 16 ${SKIPPED}`,
    async () => {
      const runs = [
        await train("b16", { training: { batchSize: 16 } }),
        await train("b8x2", { training: { batchSize: 8 }, execution: { accumulateGradBatches: 2 } }),
        await train("b8", { training: { batchSize: 8 } }),
      ];
      for (const run of runs) expect(run.status, run.stderr).toBe(0);
      const [b16, b8x2, b8] = runs.map((r) => r.out) as [string, string, string];
      expect(metrics(b8x2).map((r) => r.step)).toEqual([2, 4, 6]);
      expect(weightDistance(b16, b8x2)).toBeLessThan(1e-5);
      // Without accumulation batch 8 takes twice the steps and ends elsewhere: the check can fail.
      expect(weightDistance(b16, b8)).toBeGreaterThan(1e-4);
    },
    120_000,
  );

  it.skipIf(!torch)(
    `validates on the fold trainkit's assignSpatialFolds holds out, on the threads of the budget ${SKIPPED}`,
    async () => {
      const { out, file } = await writeRun("fold", {
        training: { testDataFile: testOut, foldCount: 3, foldIndex: 1, nepochs: 1 },
        execution: { computeThreads: "auto" },
      });
      const result = python([TRAINER, "--payload", file], { TRAINKIT_THREAD_BUDGET: "1" });
      expect(result.status, result.stderr).toBe(0);
      const { arrays } = await loadNpz(trainOut, { keys: ["xcoords", "ycoords"] });
      const expected = splitFold(
        assignSpatialFolds(
          arrays.get("xcoords")!.data as Float64Array,
          arrays.get("ycoords")!.data as Float64Array,
          3,
        ),
        1,
      );
      const folds = JSON.parse(readFileSync(join(out, "folds.json"), "utf8"));
      expect(folds.validationPositions).toEqual([...expected.validation]);
      expect(folds.trainPositions).toEqual([...expected.train]);
      expect(result.stderr).toContain(
        `torch-trainer: 1 threads, ${expected.train.length} training patterns, ${expected.validation.length} validation patterns`,
      );
      expect(Number.isFinite(metrics(out)[0]!.val_loss)).toBe(true);
    },
    60_000,
  );

  it.skipIf(!torch)(
    `refuses a setting it cannot honour with exit 2, before training ${SKIPPED}`,
    async () => {
      const result = await train("fno", { model: { architecture: "fno" } });
      expect(result.status).toBe(2);
      expect(result.stderr).toMatchInlineSnapshot(`
      "torch-trainer: model.architecture: this trainer cannot honour "fno" (it supports "cnn"); change the setting or use another backend.
      "
    `);
      expect(result.stdout).toBe("");
      expect(existsSync(join(result.out, "model.pt"))).toBe(false);
    },
    60_000,
  );

  it.skipIf(!torch)(
    `runs under trainkit-train --backend process (payload dialect) ${SKIPPED}`,
    () => {
      const out = join(dir, "process");
      const result = run("train", [
        ...["--train-data-file", trainOut, "--test-data-file", testOut, "--n-groups", "32"],
        ...["--output-dir", out, "--nepochs", "2"],
        ...["--n-filters-scale", "1", "--accelerator", "cpu", "--backend", "process"],
        ...["--command", `${PYTHON} ${TRAINER}`],
      ]);
      expect(result.status, result.stderr).toBe(0);
      expect(metrics(out).map((r) => r.epoch)).toEqual([0, 1]);
      // What the program used is what the payload says, setting for setting.
      const payload = JSON.parse(readFileSync(join(out, "payload.json"), "utf8")).config;
      const { used, resolved } = JSON.parse(readFileSync(join(out, "settings-used.json"), "utf8"));
      const differences = Object.entries(used as Record<string, unknown>)
        .filter(([path, value]) => {
          const [section, key] = path.split(".") as [string, string];
          return JSON.stringify(payload[section][key]) !== JSON.stringify(value);
        })
        .map(([path]) => path);
      expect(differences).toEqual([]);
      expect(resolved).toEqual({});
      expect(Object.keys(used).length).toBeGreaterThan(50);
      expect(JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"))).toMatchObject({
        status: "succeeded",
        details: { dialect: "payload", childExitCode: 0 },
      });
    },
    60_000,
  );
});
