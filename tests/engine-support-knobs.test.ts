// One short training run per execution knob that the embedded engine's support table marks honoured,
// each showing the knob's effect. The record of effects is typed over the honoured knobs of
// EMBEDDED_SUPPORT, so a knob marked honoured without a test here is a type error. Gradient clipping
// is checked against the first update computed by hand from two unclipped runs.
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { readModelBundle } from "@trainkit/data";
import { decodeWeights, infer, train } from "@trainkit/engine";
import type { EMBEDDED_SUPPORT } from "@trainkit/engine/capabilities";
import type { ExecutionConfigInput } from "@trainkit/execution-config";
import { createInferencePayload, createTrainingPayload } from "@trainkit/factory";
import { writeSimulatedDataset } from "@trainkit/simulator";
import { describe, expect, it } from "vitest";
import { CPU_PIPE } from "../packages/factory/test/helpers.ts";
import { tempDir } from "./helpers.ts";

const dir = tempDir("trainkit-support-knobs-");
await writeSimulatedDataset({
  N: 64,
  positions: 20,
  seed: 3,
  trainOut: join(dir, "train.npz"),
  testOut: join(dir, "test.npz"),
  testFraction: 0.2,
});

interface Run {
  readonly runDir: string;
  readonly stderr: string;
  readonly details: Record<string, unknown>;
  readonly resolved: readonly { path: string; value: unknown }[];
}

let runs = 0;
const cache = new Map<string, Promise<Run>>();
/** A short run: 8 groups, batch 4, 2 epochs (4 steps), unless `training` says otherwise; once per settings. */
function trainWith(execution: ExecutionConfigInput, training: Record<string, unknown> = {}): Promise<Run> {
  const key = JSON.stringify([execution, training]);
  let run = cache.get(key);
  if (!run) {
    run = trainOnce(execution, training);
    cache.set(key, run);
  }
  return run;
}

async function trainOnce(execution: ExecutionConfigInput, training: Record<string, unknown>): Promise<Run> {
  const runDir = join(dir, `run-${runs++}`);
  const payload = await createTrainingPayload({
    trainDataFile: join(dir, "train.npz"),
    outputDir: runDir,
    overrides: {
      model: { nFiltersScale: 1 },
      training: { nGroups: 8, nepochs: 2, batchSize: 4, ...training },
    },
    execution: { seed: 5, checkpointMonitor: "train_loss", ...execution },
    environment: CPU_PIPE,
  });
  let stderr = "";
  const result = await train({
    payload,
    runDir,
    resume: false,
    signal: new AbortController().signal,
    io: { stdout: () => {}, stderr: (t) => (stderr += t) },
  });
  expect(result.status, result.message).toBe("succeeded");
  return { runDir, stderr, details: { ...result.details }, resolved: result.resolved ?? [] };
}

const weights = async (runDir: string) =>
  Buffer.from((await readModelBundle(runDir, { weights: true })).weights.get("weights/weights.npz")!);
const floats = async (runDir: string) =>
  (await decodeWeights(await weights(runDir), "weights")).arrays.map((a) =>
    Float64Array.from(a.data as ArrayLike<number>),
  );
/** One column of metrics.csv, a row per epoch (an empty cell is undefined). */
const column = (runDir: string, name: string) => {
  const [header, ...rows] = readFileSync(join(runDir, "lightning_logs/version_0/metrics.csv"), "utf8")
    .trim()
    .split("\n");
  const at = header!.split(",").indexOf(name);
  expect(at, `metrics.csv has a ${name} column`).toBeGreaterThanOrEqual(0);
  return rows.map((r) => {
    const cell = r.split(",")[at];
    return cell === "" || cell === undefined ? undefined : Number(cell);
  });
};
const lrs = (runDir: string) => column(runDir, "lr") as number[];
const expectLrs = (runDir: string, expected: readonly number[]) => {
  const got = lrs(runDir);
  expect(got).toHaveLength(expected.length);
  for (const [i, v] of got.entries()) expect(v).toBeCloseTo(expected[i]!, 12);
};
const checkpoints = (runDir: string) =>
  existsSync(join(runDir, "checkpoints")) ? readdirSync(join(runDir, "checkpoints")).sort() : [];

const baseline = () => trainWith({});
const differsFromBaseline = async (run: Run) =>
  expect((await weights(run.runDir)).equals(await weights((await baseline()).runDir))).toBe(false);
const sameAsBaseline = async (run: Run) =>
  expect((await weights(run.runDir)).equals(await weights((await baseline()).runDir))).toBe(true);

/** One run of a single SGD step (lr, no momentum, MAE loss so that plain SGD is stable). */
const oneStep = (execution: ExecutionConfigInput) =>
  trainWith(
    { optimizer: "sgd", momentum: 0, learningRate: 1e-3, ...execution },
    { nGroups: 4, batchSize: 4, nepochs: 1, nllWeight: 0, maeWeight: 1 },
  );

/** The first update by hand: from runs at lr and 2 lr, w0 = 2 w1 - w2 and g = (w1 - w2) / lr. */
async function firstUpdate(): Promise<{ w0: Float64Array[]; g: Float64Array[]; lr: number }> {
  const lr = 1e-3;
  const w1 = await floats((await oneStep({})).runDir);
  const w2 = await floats((await oneStep({ learningRate: 2 * lr })).runDir);
  return {
    w0: w1.map((a, i) => a.map((v, j) => 2 * v - w2[i]![j]!)),
    g: w1.map((a, i) => a.map((v, j) => (v - w2[i]![j]!) / lr)),
    lr,
  };
}

function expectClose(actual: Float64Array[], expected: Float64Array[], scale: number) {
  let worst = 0;
  for (const [i, a] of actual.entries())
    for (const [j, v] of a.entries()) worst = Math.max(worst, Math.abs(v - expected[i]![j]!));
  expect(worst).toBeLessThan(1e-3 * scale);
}

type Execution = typeof EMBEDDED_SUPPORT.execution;
type HonouredKnob = {
  [K in keyof Execution]: Execution[K] extends { kind: "honoured" } ? K : never;
}[keyof Execution];

/** For every honoured execution knob: a short run and what it changes. */
const EFFECTS: Record<HonouredKnob, () => Promise<void>> = {
  deterministic: async () => {
    // Always met: asking for nondeterminism changes nothing, the weights are byte-identical.
    await sameAsBaseline(await trainWith({ deterministic: false }));
  },
  seed: async () => differsFromBaseline(await trainWith({ seed: 6 })),
  computeThreads: async () => {
    // The thread count is asked for and recorded; results do not depend on it by design.
    const run = await trainWith({ computeThreads: 1 });
    expect(run.details.computeThreadsRequested).toBe(1);
    await sameAsBaseline(run);
  },
  numWorkers: async () => {
    // Worker threads gather the batches; the result is identical by design.
    const run = await trainWith({ numWorkers: 2, deterministic: false });
    await sameAsBaseline(run);
  },
  prefetchFactor: async () =>
    sameAsBaseline(await trainWith({ numWorkers: 1, prefetchFactor: 4, deterministic: false })),
  optimizer: async () => {
    // Plain SGD at Adam's learning rate diverges on this loss (and stops as non-finite): compare the
    // two at a rate where both train.
    const adam = await trainWith({ learningRate: 1e-6 });
    const sgd = await trainWith({ optimizer: "sgd", learningRate: 1e-6 });
    expect(await weights(sgd.runDir)).not.toEqual(await weights(adam.runDir));
  },
  learningRate: async () => differsFromBaseline(await trainWith({ learningRate: 3e-3 })),
  momentum: async () => {
    const a = await weights(
      (await trainWith({ optimizer: "sgd", learningRate: 1e-4 }, { nllWeight: 0, maeWeight: 1 })).runDir,
    );
    const b = await weights(
      (
        await trainWith(
          { optimizer: "sgd", learningRate: 1e-4, momentum: 0.5 },
          { nllWeight: 0, maeWeight: 1 },
        )
      ).runDir,
    );
    expect(a.equals(b)).toBe(false);
  },
  weightDecay: async () => differsFromBaseline(await trainWith({ weightDecay: 0.5 })),
  adamBeta1: async () => differsFromBaseline(await trainWith({ adamBeta1: 0.5 })),
  adamBeta2: async () => differsFromBaseline(await trainWith({ adamBeta2: 0.9 })),
  scheduler: async () => {
    expectLrs((await trainWith({ scheduler: "Exponential", learningRate: 0.002 })).runDir, [0.002, 0.0019]);
  },
  lrGamma: async () => {
    expectLrs(
      (await trainWith({ scheduler: "Exponential", lrGamma: 0.5, learningRate: 0.002 })).runDir,
      [0.002, 0.001],
    );
  },
  lrMilestones: async () => {
    expectLrs(
      (await trainWith({ scheduler: "MultiStage", lrMilestones: [1], learningRate: 0.001 })).runDir,
      [0.001, 0.0001],
    );
  },
  lrMilestoneFactor: async () => {
    const run = await trainWith({
      scheduler: "MultiStage",
      lrMilestones: [1],
      lrMilestoneFactor: 0.5,
      learningRate: 0.001,
    });
    expectLrs(run.runDir, [0.001, 0.0005]);
  },
  lrWarmupEpochs: async () => {
    const plain = lrs(
      (await trainWith({ scheduler: "WarmupCosine", learningRate: 0.001 }, { nepochs: 3 })).runDir,
    );
    const warm = lrs(
      (await trainWith({ scheduler: "WarmupCosine", lrWarmupEpochs: 2, learningRate: 0.001 }, { nepochs: 3 }))
        .runDir,
    );
    expect(warm[0]).toBeLessThan(plain[0]!);
  },
  lrMinRatio: async () => {
    const a = lrs(
      (await trainWith({ scheduler: "WarmupCosine", learningRate: 0.001 }, { nepochs: 3 })).runDir,
    );
    const b = lrs(
      (await trainWith({ scheduler: "WarmupCosine", lrMinRatio: 0.5, learningRate: 0.001 }, { nepochs: 3 }))
        .runDir,
    );
    expect(b.at(-1)).toBeGreaterThan(a.at(-1)!);
  },
  // ReduceLROnPlateau: with a relative threshold of 1, no epoch counts as an improvement.
  plateauFactor: async () => {
    const run = await trainWith(
      {
        scheduler: "ReduceLROnPlateau",
        plateauPatience: 0,
        plateauThreshold: 1,
        plateauFactor: 0.25,
        learningRate: 0.001,
      },
      { nepochs: 3 },
    );
    expect(lrs(run.runDir).at(-1)).toBeLessThan(0.001 * 0.25 + 1e-12);
  },
  plateauPatience: async () => {
    const run = await trainWith(
      { scheduler: "ReduceLROnPlateau", plateauPatience: 5, plateauThreshold: 1, learningRate: 0.001 },
      { nepochs: 3 },
    );
    expectLrs(run.runDir, [0.001, 0.001, 0.001]);
  },
  plateauMinLr: async () => {
    const run = await trainWith(
      {
        scheduler: "ReduceLROnPlateau",
        plateauPatience: 0,
        plateauThreshold: 1,
        plateauMinLr: 8e-4,
        learningRate: 0.001,
      },
      { nepochs: 3 },
    );
    expect(Math.min(...lrs(run.runDir))).toBeCloseTo(8e-4, 12);
  },
  plateauThreshold: async () => {
    const run = await trainWith(
      { scheduler: "ReduceLROnPlateau", plateauPatience: 0, plateauThreshold: 1, learningRate: 0.001 },
      { nepochs: 3 },
    );
    expect(Math.min(...lrs(run.runDir))).toBeLessThan(0.001);
  },
  gradientClipVal: async () => {
    // Norm clipping scales the whole gradient by clip / (||g|| + 1e-6): w1 = w0 - lr s g.
    const { w0, g, lr } = await firstUpdate();
    const norm = Math.sqrt(g.reduce((sum, a) => sum + a.reduce((s, v) => s + v * v, 0), 0));
    expect(norm).toBeGreaterThan(0);
    const clip = norm / 3;
    const s = clip / (norm + 1e-6);
    const clipped = await floats((await oneStep({ gradientClipVal: clip })).runDir);
    const expected = w0.map((a, i) => a.map((v, j) => v - lr * s * g[i]![j]!));
    expectClose(clipped, expected, lr * s * Math.max(...g.map((a) => Math.max(...a.map(Math.abs)))));
    // and it is not the unclipped update
    const unclipped = w0.map((a, i) => a.map((v, j) => v - lr * g[i]![j]!));
    expect(() => expectClose(clipped, unclipped, lr * s * 1e-3)).toThrow();
  },
  gradientClipAlgorithm: async () => {
    // Value clipping clamps every element: w1 = w0 - lr clamp(g, -c, c).
    const { w0, g, lr } = await firstUpdate();
    const largest = Math.max(...g.map((a) => Math.max(...a.map(Math.abs))));
    const clip = largest / 4;
    const clipped = await floats(
      (await oneStep({ gradientClipVal: clip, gradientClipAlgorithm: "value" })).runDir,
    );
    const expected = w0.map((a, i) => a.map((v, j) => v - lr * Math.min(clip, Math.max(-clip, g[i]![j]!))));
    expectClose(clipped, expected, lr * clip);
  },
  accumulateGradBatches: async () => {
    const run = await trainWith({ accumulateGradBatches: 2 });
    expect(run.details.steps).toBe(((await baseline()).details.steps as number) / 2);
  },
  enableCheckpointing: async () => {
    expect(checkpoints((await baseline()).runDir)).toContain("last.ckpt");
    expect(checkpoints((await trainWith({ enableCheckpointing: false })).runDir)).toEqual([]);
  },
  checkpointSaveTopK: async () => {
    const one = checkpoints((await trainWith({ checkpointSaveTopK: 1 }, { nepochs: 3 })).runDir);
    const all = checkpoints((await trainWith({ checkpointSaveTopK: -1 }, { nepochs: 3 })).runDir);
    expect(all.length - one.length).toBe(2); // every one of the 3 epochs kept instead of the best one
  },
  checkpointMonitor: async () => {
    const run = await trainWith({ checkpointMonitor: "val_loss" }, { testDataFile: join(dir, "test.npz") });
    expect(run.details.monitor).toBe("val_loss");
    expect(checkpoints(run.runDir).some((f) => f.includes("val_loss="))).toBe(true);
  },
  checkpointMode: async () => {
    const min = (await baseline()).details.bestCheckpoint;
    const max = (await trainWith({ checkpointMode: "max" })).details.bestCheckpoint;
    expect(String(max).replace(/run-\d+/, "")).not.toBe(String(min).replace(/run-\d+/, ""));
  },
  earlyStopPatience: async () => {
    // In mode max a falling loss does not improve: patience 1 stops well before the fifth epoch.
    const run = await trainWith({ checkpointMode: "max", earlyStopPatience: 1 }, { nepochs: 5 });
    expect(run.details.epochsRun as number).toBeLessThan(5);
    expect(String(run.details.earlyStopping)).toMatch(/improve/i);
  },
  checkValEveryNEpoch: async () => {
    // Validation every 2nd epoch and after the last: val_loss on epochs 1, 3 and 4 of 5, and only
    // those ranked (every one kept). Validation never changes the training: the weights are the same.
    const validation = { testDataFile: join(dir, "test.npz"), nepochs: 5 };
    const settings = { checkpointMonitor: "val_loss", checkpointSaveTopK: -1 } as const;
    const every = await trainWith(settings, validation);
    const sparse = await trainWith({ ...settings, checkValEveryNEpoch: 2 }, validation);
    expect(column(every.runDir, "val_loss").map((v) => v !== undefined)).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    const val = column(sparse.runDir, "val_loss");
    expect(val.map((v) => v !== undefined)).toEqual([false, true, false, true, true]);
    expect(val).toEqual(
      column(every.runDir, "val_loss").map((v, i) => (i % 2 === 1 || i === 4 ? v : undefined)),
    );
    const ranked = (run: Run) => checkpoints(run.runDir).filter((f) => f.includes("val_loss="));
    expect(ranked(every)).toHaveLength(5);
    expect(ranked(sparse).map((f) => f.slice(0, 8))).toEqual(["epoch=01", "epoch=03", "epoch=04"]);
    expect((await weights(sparse.runDir)).equals(await weights(every.runDir))).toBe(true);
  },
  enableProgressBar: async () => {
    // The bar is drawn on the process's stderr when it is a terminal: pretend it is one.
    const captured = async (enableProgressBar: boolean) => {
      const stderr = process.stderr as { isTTY: boolean; write: typeof process.stderr.write };
      const { isTTY, write } = stderr;
      let text = "";
      stderr.isTTY = true;
      stderr.write = ((chunk: unknown) => {
        text += String(chunk);
        return true;
      }) as typeof process.stderr.write;
      try {
        await trainWith({ enableProgressBar });
      } finally {
        stderr.isTTY = isTTY;
        stderr.write = write;
      }
      return text;
    };
    expect(await captured(false)).not.toMatch(/epoch \d\/2/);
    expect(await captured(true)).toMatch(/epoch \d\/2 \|/);
  },
  inferenceBatchSize: async () => {
    const a = await inferWith({});
    const b = await inferWith({ inferenceBatchSize: 2 });
    expect(b.details.batchSize).toBe(2);
    expect(a.details.batchSize).toBe(4); // the training batch size
    expect(
      readFileSync(join(b.runDir, "reconstruction.npz")).equals(
        readFileSync(join(a.runDir, "reconstruction.npz")),
      ),
    ).toBe(true);
  },
  middleTrim: async () => {
    const a = await inferWith({});
    const b = await inferWith({ middleTrim: 8 });
    expect(
      readFileSync(join(b.runDir, "reconstruction.npz")).equals(
        readFileSync(join(a.runDir, "reconstruction.npz")),
      ),
    ).toBe(false);
  },
  patchWeighting: async () => {
    const a = await inferWith({});
    const b = await inferWith({ patchWeighting: "uniform" });
    expect(
      readFileSync(join(b.runDir, "reconstruction.npz")).equals(
        readFileSync(join(a.runDir, "reconstruction.npz")),
      ),
    ).toBe(false);
  },
};

let inferRuns = 0;
const inferCache = new Map<string, ReturnType<typeof inferOnce>>();
function inferWith(execution: ExecutionConfigInput) {
  const key = JSON.stringify(execution);
  let run = inferCache.get(key);
  if (!run) {
    run = inferOnce(execution);
    inferCache.set(key, run);
  }
  return run;
}

async function inferOnce(execution: ExecutionConfigInput) {
  const runDir = join(dir, `infer-${inferRuns++}`);
  mkdirSync(runDir, { recursive: true });
  const payload = await createInferencePayload({
    modelPath: (await baseline()).runDir,
    testDataFile: join(dir, "test.npz"),
    outputDir: runDir,
    execution,
    environment: CPU_PIPE,
  });
  const result = await infer({
    payload,
    runDir,
    resume: false,
    signal: new AbortController().signal,
    io: { stdout: () => {}, stderr: () => {} },
  });
  expect(result.status, result.message).toBe("succeeded");
  return { runDir, details: { ...result.details } as Record<string, unknown> };
}

describe("every execution knob the embedded engine honours", () => {
  it.each(Object.keys(EFFECTS) as HonouredKnob[])(
    "%s has its effect in a short run",
    async (knob) => {
      await EFFECTS[knob]();
    },
    180_000,
  );
});
