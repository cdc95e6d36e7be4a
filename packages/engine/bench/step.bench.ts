/**
 * Training-step benchmark of the TensorFlow.js engine at the default model size
 * (N 64, gridsize 1, batch 16, nFiltersScale 2), wasm vs cpu.
 *
 *   pnpm exec vitest bench --run packages/engine/bench
 *
 * Reported per case: vitest's timings (a "forward" is a no-gradient pass with the physics, a "step"
 * is forward + backward: loss and gradients of every trainable variable, "predict" is inference:
 * object amplitude and phase, no physics; wasm only), and at the end a summary with samples/s and
 * memory (peak RSS of the process, peak bytes held by tensors during one step), the wasm step's
 * kernel profile by layer and op kind (forward and backward), and the same network's training step in
 * PyTorch (`bench/torch_step.py`, 2 threads) when `/usr/bin/python3` imports torch, with the ratio.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Tensor4D } from "@tensorflow/tfjs";
import { MODEL_DEFAULTS } from "@trainkit/training-config";
import { afterAll, bench, describe } from "vitest";
import { initBackend, type TfBackendName } from "../src/tf/backend.ts";
import { createPtychoModel, type PtychoModel } from "../src/tf/model.ts";
import { lossAndGradients } from "../src/tf/step.ts";
import { tf } from "../src/tf/tfjs.ts";
import { diskProbe, randomArray } from "../test/tf/helpers.ts";
import { profileTable } from "./profile-table.ts";

const N = 64;
const BATCH = 16;

interface Setup {
  readonly model: PtychoModel;
  readonly diffraction: Tensor4D;
}

const setups = new Map<TfBackendName, Setup>();
const timings = new Map<string, number[]>();
const peakRss = new Map<TfBackendName, number>();
const peakTensorBytes = new Map<TfBackendName, number>();

async function setup(backend: TfBackendName): Promise<Setup> {
  await initBackend(backend);
  let s = setups.get(backend);
  if (s === undefined) {
    const model = createPtychoModel(
      {
        model: { ...MODEL_DEFAULTS, N, gridsize: 1, nFiltersScale: 2 },
        training: { nphotons: 1e9, probeTrainable: false, intensityScaleTrainable: true },
      },
      diskProbe(N),
      1,
    );
    const diffraction = tf.tensor4d(randomArray(BATCH * N * N, 2, 0, 1), [BATCH, N, N, 1]);
    s = { model, diffraction };
    setups.set(backend, s);
  }
  return s;
}

function timed(backend: TfBackendName, name: string, fn: () => void): void {
  const t0 = performance.now();
  fn();
  const list = timings.get(name) ?? [];
  list.push(performance.now() - t0);
  timings.set(name, list);
  peakRss.set(backend, Math.max(peakRss.get(backend) ?? 0, process.memoryUsage().rss));
}

function forward(s: Setup): void {
  tf.tidy(() => {
    s.model.forward({ diffraction: s.diffraction }).intensity?.dataSync();
  });
}

function predict(s: Setup): void {
  const p = s.model.predict(s.diffraction);
  p.amplitude.dataSync();
  tf.dispose([p.amplitude, p.phase]);
}

function step(s: Setup): void {
  const r = lossAndGradients(s.model, { diffraction: s.diffraction });
  for (const g of r.grads.values()) g.dispose();
}

for (const backend of ["wasm", "cpu"] as const) {
  // The cpu backend is ~40x slower: a single timed run of each, no warm-up.
  const options =
    backend === "wasm"
      ? { iterations: 10, time: 0, warmupIterations: 2, warmupTime: 0 }
      : { iterations: 1, time: 0, warmupIterations: 0, warmupTime: 0 };
  const hooks = {
    setup: async () => {
      const s = await setup(backend);
      if (!peakTensorBytes.has(backend)) {
        // Peak bytes held by tensors during one step (TensorFlow.js' own accounting).
        const profile = await tf.profile(() => step(s));
        peakTensorBytes.set(backend, profile.peakBytes);
      }
    },
  };
  describe(`${backend} backend (N ${N}, gridsize 1, batch ${BATCH}, nFiltersScale 2)`, () => {
    bench(
      `${backend} forward`,
      () => timed(backend, `${backend} forward`, () => forward(setups.get(backend) as Setup)),
      {
        ...options,
        ...hooks,
      },
    );
    if (backend === "wasm") {
      bench(
        `wasm predict`,
        () => timed(backend, "wasm predict", () => predict(setups.get(backend) as Setup)),
        {
          ...options,
          ...hooks,
        },
      );
    }
    bench(
      `${backend} step (forward + backward)`,
      () => timed(backend, `${backend} step`, () => step(setups.get(backend) as Setup)),
      { ...options, ...hooks },
    );
  });
}

afterAll(async () => {
  await initBackend("wasm");
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const lines = [...timings.entries()].map(([name, xs]) => {
    const ms = median(xs);
    return `${name.padEnd(14)} median ${ms.toFixed(0).padStart(6)} ms  ${((BATCH * 1000) / ms).toFixed(1).padStart(6)} samples/s  (${xs.length} runs)`;
  });
  const s = setups.get("wasm");
  const params = s?.model.parameterCount(true) ?? 0;
  const mib = (bytes: number | undefined) => `${((bytes ?? 0) / 2 ** 20).toFixed(0)} MiB`;
  const memory = [...peakRss.keys()].map(
    (b) =>
      `${b}: peak RSS ${mib(peakRss.get(b))} (process, cumulative), peak tensor bytes in a step ${mib(peakTensorBytes.get(b))}`,
  );
  const profileLines = s === undefined ? [] : await profileTable(() => step(s));
  // The machine's load changes within minutes: the ratio uses steps timed just before PyTorch runs.
  const recent = (fn: () => void) =>
    median(
      Array.from({ length: 5 }, () => {
        const t0 = performance.now();
        fn();
        return performance.now() - t0;
      }),
    );
  const stepMs = s === undefined ? Number.NaN : recent(() => step(s));
  const forwardMs = s === undefined ? Number.NaN : recent(() => forward(s));
  console.log(
    [
      `trainkit engine (TensorFlow.js) at N ${N}, batch ${BATCH}, ${params} trainable parameters:`,
      ...lines,
      ...memory,
      ...profileLines,
      torchComparison(stepMs, forwardMs),
    ].join("\n"),
  );
  for (const x of setups.values()) {
    x.model.dispose();
    x.diffraction.dispose();
  }
}, 900_000);

/** The same network's training step in PyTorch (2 threads), when /usr/bin/python3 imports torch. */
function torchComparison(stepMs: number, forwardMs: number): string {
  const python = "/usr/bin/python3";
  const script = join(import.meta.dirname, "torch_step.py");
  if (!existsSync(python)) return "PyTorch: skipped (no /usr/bin/python3)";
  const probe = spawnSync(python, ["-c", "import torch"], { encoding: "utf8" });
  if (probe.status !== 0) return "PyTorch: skipped (/usr/bin/python3 cannot import torch)";
  const run = spawnSync(python, [script, "2", String(BATCH), "10"], { encoding: "utf8", timeout: 600_000 });
  if (run.status !== 0)
    return `PyTorch: failed (${(run.stderr || run.error?.message || "").trim().split("\n").at(-1)})`;
  const t = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}") as {
    torch: string;
    threads: number;
    parameters: number;
    stepMs: number;
    forwardMs: number;
    samplesPerSecond: number;
  };
  return [
    `trainkit step just before: ${stepMs.toFixed(0)} ms, forward ${forwardMs.toFixed(0)} ms (median of 5 each)`,
    `PyTorch ${t.torch} (${t.threads} threads, same network shape, ${t.parameters} parameters): step ${t.stepMs.toFixed(0)} ms (${t.samplesPerSecond.toFixed(1)} samples/s), forward ${t.forwardMs.toFixed(0)} ms`,
    `trainkit / PyTorch: step ${(stepMs / t.stepMs).toFixed(2)}x, forward ${(forwardMs / t.forwardMs).toFixed(2)}x the time`,
  ].join("\n");
}
