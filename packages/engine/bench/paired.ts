/**
 * Paired, same-process timing of training steps: this engine against the engine of a git ref
 * (`--ref`, its `packages/engine/src/tf` extracted under `bench/.old/`), and/or against other model
 * widths, alternating case by case on the same batch so that the machine's load (shared cores,
 * changing within minutes) hits every case alike.
 *
 *   tsx --conditions=@trainkit/source packages/engine/bench/paired.ts \
 *     [--ref main] [--scales 2] [--batches 16] [--threads 2] [--rounds 12] [--forward] [--profile]
 *
 * Cases: for each width in `--scales` and batch size in `--batches`, `new` (this tree) and, with
 * `--ref`, `old`. Each round runs
 * every case once, in an order rotated round by round. Printed: the median step per case, the
 * median of the per-round ratios to the first case, and for old vs new a check that the loss and
 * every gradient are byte-identical. `--profile` prints each case's kernel profile first (by layer
 * and op kind, and by kernel name).
 *
 * One process has one kernel registry: the kernels each engine installs (`Slice`, `Identity`,
 * `TrainkitFilterTaps`, ...) are swapped in before each of its steps, so the old engine runs its
 * own kernels, not this tree's.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { KernelConfig, Tensor, Tensor4D } from "@tensorflow/tfjs";
import { MODEL_DEFAULTS } from "@trainkit/training-config";
import { initBackend } from "../src/tf/backend.ts";
import { createPtychoModel } from "../src/tf/model.ts";
import { lossAndGradients } from "../src/tf/step.ts";
import { tf } from "../src/tf/tfjs.ts";
import { diskProbe, randomArray } from "../test/tf/helpers.ts";
import { profileTable } from "./profile-table.ts";

const { values } = parseArgs({
  options: {
    ref: { type: "string" },
    scales: { type: "string", default: "2" },
    batches: { type: "string", default: "16" },
    threads: { type: "string", default: "2" },
    rounds: { type: "string", default: "12" },
    forward: { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
  },
});
const N = 64;
const batches = (values.batches ?? "16").split(",").map(Number);
const rounds = Number(values.rounds);
const scales = (values.scales ?? "2").split(",").map(Number);

/** Kernel names either engine may replace or add (swapped per case). */
const SWAPPED = ["Slice", "Identity", "TrainkitFilterTaps", "TrainkitConvBackward"];
const stock = new Map<string, KernelConfig | undefined>(SWAPPED.map((k) => [k, tf.getKernel(k, "wasm")]));

interface Engine {
  readonly label: string;
  readonly createPtychoModel: typeof createPtychoModel;
  readonly lossAndGradients: typeof lossAndGradients;
  readonly kernels: Map<string, KernelConfig | undefined>;
}

function snapshotKernels(): Map<string, KernelConfig | undefined> {
  return new Map(SWAPPED.map((k) => [k, tf.getKernel(k, "wasm")]));
}

function useKernels(kernels: Map<string, KernelConfig | undefined>): void {
  for (const [name, config] of kernels) {
    if (tf.getKernel(name, "wasm") === config) continue;
    if (tf.getKernel(name, "wasm") !== undefined) tf.unregisterKernel(name, "wasm");
    if (config !== undefined) tf.registerKernel(config);
  }
}

await initBackend("wasm", { threads: Number(values.threads) });
const engines: Engine[] = [{ label: "new", createPtychoModel, lossAndGradients, kernels: snapshotKernels() }];

if (values.ref !== undefined) {
  const root = execFileSync("git", ["rev-parse", "--show-toplevel"], { encoding: "utf8" }).trim();
  const dir = join(import.meta.dirname, ".old", values.ref.replace(/[^\w.-]/g, "_"));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const files = execFileSync("git", ["ls-tree", "-r", "--name-only", values.ref, "packages/engine/src/tf"], {
    cwd: root,
    encoding: "utf8",
  })
    .trim()
    .split("\n");
  for (const file of files) {
    const target = join(dir, file.slice("packages/engine/src/".length));
    mkdirSync(join(target, ".."), { recursive: true });
    writeFileSync(target, execFileSync("git", ["show", `${values.ref}:${file}`], { cwd: root }));
  }
  // The old engine's kernels, installed over the stock ones.
  useKernels(stock);
  for (const file of files.filter((f) => /internal\/.*kernel/.test(f))) {
    const kernelsModule = await import(join(dir, file.slice("packages/engine/src/".length)));
    for (const [name, fn] of Object.entries(kernelsModule)) {
      if (name.startsWith("install") && typeof fn === "function") (fn as () => void)();
    }
  }
  const oldKernels = snapshotKernels();
  useKernels(engines[0]!.kernels);
  const model = await import(join(dir, "tf/model.ts"));
  const step = await import(join(dir, "tf/step.ts"));
  engines.push({
    label: `old (${values.ref})`,
    createPtychoModel: model.createPtychoModel,
    lossAndGradients: step.lossAndGradients,
    kernels: oldKernels,
  });
}

interface Case {
  readonly label: string;
  readonly scale: number;
  readonly batch: number;
  readonly engine: Engine;
  readonly run: () => { loss: number; grads: Map<string, Tensor> };
  readonly ms: number[];
  /** Process CPU time of each run (all threads), ms. */
  readonly cpuMs: number[];
}

/**
 * A model of `engine`. Each engine numbers its models from 0 (variable names `ptycho<k>/...`), so a
 * name the other engine holds already is skipped by trying the next number.
 */
function createModel(engine: Engine, scale: number): ReturnType<typeof createPtychoModel> {
  for (;;) {
    try {
      return engine.createPtychoModel(
        {
          model: { ...MODEL_DEFAULTS, N, gridsize: 1, nFiltersScale: scale },
          training: { nphotons: 1e9, probeTrainable: false, intensityScaleTrainable: true },
        },
        diskProbe(N),
        1,
      );
    } catch (error) {
      if (!String(error).includes("already registered")) throw error;
    }
  }
}

const cases: Case[] = [];
for (const batch of batches) {
  const diffraction = tf.tensor4d(randomArray(batch * N * N, 2, 0, 1), [batch, N, N, 1]) as Tensor4D;
  for (const scale of scales) {
    for (const engine of engines) {
      const model = createModel(engine, scale);
      const run = values.forward
        ? () => {
            const loss = tf.tidy(() => model.forward({ diffraction }).intensity?.dataSync()[0] ?? 0);
            return { loss, grads: new Map<string, Tensor>() };
          }
        : () => engine.lossAndGradients(model, { diffraction });
      const label = `${engine.label} nFiltersScale ${scale}${batches.length > 1 ? ` batch ${batch}` : ""}`;
      cases.push({ label, scale, batch, engine, run, ms: [], cpuMs: [] });
    }
  }
}

function once(c: Case): { loss: number; grads: Map<string, Tensor> } {
  useKernels(c.engine.kernels);
  return c.run();
}

// Byte-identity of old and new (same width), and a warm-up of every case.
const digest = (r: { loss: number; grads: Map<string, Tensor> }) => {
  const parts = [String(r.loss)];
  for (const [name, g] of r.grads) {
    parts.push(name, Buffer.from((g.dataSync() as Float32Array).buffer).toString("base64"));
    g.dispose();
  }
  return parts.join("|");
};
const digests = cases.map((c) => digest(once(c)));
cases.forEach((c, i) => {
  const j = cases.findIndex((d) => d.scale === c.scale && d.batch === c.batch);
  if (j !== i) {
    console.log(
      `${c.label} vs ${cases[j]!.label}: loss and gradients ${digests[i] === digests[j] ? "byte-identical" : "DIFFER"}`,
    );
  }
});
tf.dispose([...once(cases[0]!).grads.values()]);

if (values.profile) {
  for (const c of cases) {
    useKernels(c.engine.kernels);
    console.log(`${c.label}:`);
    console.log((await profileTable(() => tf.dispose([...c.run().grads.values()]))).join("\n"));
  }
}

const cpu0 = process.cpuUsage();
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < cases.length; k++) {
    const c = cases[(r + k) % cases.length]!;
    const t0 = performance.now();
    const u0 = process.cpuUsage();
    const out = once(c);
    for (const g of out.grads.values()) g.dispose();
    const u = process.cpuUsage(u0);
    c.ms.push(performance.now() - t0);
    c.cpuMs.push((u.user + u.system) / 1000);
  }
}
const cpu = process.cpuUsage(cpu0);

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const what = values.forward ? "forward" : "step";
console.log(
  `${what}, N ${N}, batch ${batches.join("/")}, ${values.threads} threads, ${rounds} rounds (process CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s):`,
);
const base = cases[0]!;
for (const c of cases) {
  const ratios = c.ms.map((ms, i) => ms / (base.ms[i] as number));
  const cpuRatios = c.cpuMs.map((ms, i) => ms / (base.cpuMs[i] as number));
  const ms = (v: number) => v.toFixed(0).padStart(6);
  const range = `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`;
  const perSample = `${(median(c.ms) / c.batch).toFixed(1)} ms/sample`;
  console.log(
    `  ${c.label.padEnd(28)} median ${ms(median(c.ms))} ms  min ${ms(Math.min(...c.ms))} ms  CPU ${ms(median(c.cpuMs))} ms, ${perSample} | ` +
      `ratio to ${base.label}: ${median(ratios).toFixed(3)} (range ${range}), CPU ${median(cpuRatios).toFixed(3)}`,
  );
}
