// The main job (README Quick start): simulate a small ptychography dataset, train the embedded
// PtychoPINN-style model on it with trainkit-train, reconstruct the held-out scan with
// trainkit-infer, and say where everything is. Runs the installed commands as a user would.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { writeSimulatedDataset } from "@trainkit/simulator";
import { bundle } from "./bundle-bins.mjs";

const root = join(import.meta.dirname, "..");
const out = join(root, "runs/demo");
const rel = (path: string) => relative(process.cwd(), path) || ".";
const started = performance.now();

function step(title: string): void {
  console.log(`\n== ${title} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
}

function command(bin: "train" | "infer", args: readonly string[]): void {
  const program = join(root, `packages/${bin}-cli/bin/trainkit-${bin}.js`);
  console.log(`$ trainkit-${bin} ${args.map((a) => (a.startsWith(root) ? rel(a) : a)).join(" ")}`);
  const result = spawnSync(process.execPath, [program, ...args], { stdio: "inherit" });
  if (result.status !== 0) {
    console.error(`trainkit-${bin} exited with ${result.status}`);
    process.exit(result.status ?? 1);
  }
}

step("Building the commands");
await bundle("train-cli");
await bundle("infer-cli");

mkdirSync(join(out, "data"), { recursive: true });
step("Simulating data: 64x64 probe, 320 scan positions, 1e9 photons, object amplitude 0.2-1");
const files = await writeSimulatedDataset({
  N: 64,
  positions: 320,
  seed: 1,
  amplitudeMin: 0.2,
  trainOut: join(out, "data/train.npz"),
  testOut: join(out, "data/test.npz"),
  testFraction: 0.25,
});
for (const f of files) console.log(`  ${rel(f.path)}: ${f.M} patterns`);

step("Training");
command("train", [
  "--train-data-file",
  join(out, "data/train.npz"),
  "--test-data-file",
  join(out, "data/test.npz"),
  "--n-groups",
  "240",
  "--nepochs",
  process.env.DEMO_EPOCHS ?? "25",
  "--batch-size",
  process.env.DEMO_BATCH_SIZE ?? "8",
  "--n-filters-scale",
  process.env.DEMO_N_FILTERS_SCALE ?? "1",
  "--check-val-every-n-epoch",
  process.env.DEMO_VAL_EVERY ?? "5",
  "--output-dir",
  join(out, "train"),
  "--overwrite",
]);

step("Reconstructing the held-out scan");
command("infer", [
  "--model-path",
  join(out, "train"),
  "--test-data-file",
  join(out, "data/test.npz"),
  "--output-dir",
  join(out, "infer"),
  "--overwrite",
]);

interface Scores {
  readonly amplitudePsnr: number;
  readonly amplitudeSsim: number;
  readonly phasePsnr: number;
  readonly phaseSsim: number;
}
const metrics = JSON.parse(readFileSync(join(out, "infer/metrics.json"), "utf8")) as Scores & {
  readonly untrained: Scores;
};
const scores = (m: Scores) =>
  `amplitude PSNR ${m.amplitudePsnr.toFixed(1)} dB, SSIM ${m.amplitudeSsim.toFixed(2)}; phase PSNR ${m.phasePsnr.toFixed(1)} dB, SSIM ${m.phaseSsim.toFixed(2)}`;
step("Done");
const infer = (file: string) => rel(join(out, "infer", file));
console.log(`  reconstruction  ${infer("amplitude.png")}, ${infer("phase.png")} (and .svg)`);
console.log(`  vs ground truth ${infer("comparison.png")} (truth | reconstruction | error; and .svg)`);
console.log(`  trained model   ${scores(metrics)}`);
console.log(`  untrained model ${scores(metrics.untrained)}  (same weights training started from)`);
console.log(`  metrics         ${infer("metrics.json")}`);
console.log(
  `  loss curve      ${rel(join(out, "train/loss.png"))} (and .svg; train, validation, learning rate)`,
);
console.log(
  `  audit           ${rel(join(out, "train/audit.json"))} (which level set each value, and from where)`,
);
console.log(`  model bundle    ${rel(join(out, "train/model.zip"))}`);
