// `pnpm study`: the example dose-response study end to end, as a user would run it: build the
// commands, simulate each dose's data with trainkit-datagen (once), run the study with
// trainkit-study on 2 workers, and say where the report is.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { bundle } from "./bundle-bins.mjs";

const root = join(import.meta.dirname, "..");
const bin = (pkg: string, name: string) => join(root, "packages", pkg, "bin", name);

function run(program: string, args: readonly string[]): void {
  console.log(`$ ${program.split("/").pop()} ${args.join(" ")}`);
  const result = spawnSync(process.execPath, [program, ...args], { stdio: "inherit", cwd: root });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

for (const name of ["train-cli", "infer-cli", "study-cli"]) await bundle(name);
const datagen = join(root, "packages/simulator/dist/bin/datagen.js");
if (!existsSync(datagen)) {
  // The simulator and what it imports (@trainkit/data, @trainkit/config-meta), built in order.
  const built = spawnSync("pnpm", ["--filter", "@trainkit/simulator...", "run", "build"], {
    stdio: "inherit",
    cwd: root,
  });
  if (built.status !== 0) process.exit(built.status ?? 1);
}
for (const dose of ["1e4", "1e6", "1e9"]) {
  const out = join("examples/studies/data", `dose_${dose}`);
  if (existsSync(join(root, out, "train.npz"))) continue;
  run(datagen, [
    "--out",
    out,
    "--nphotons",
    dose,
    "--positions",
    "192",
    "--amplitude-min",
    "0.2",
    "--seed",
    "1",
  ]);
}
const resume = existsSync(join(root, "runs/studies/dose/study.jsonl")) ? ["--resume"] : [];
run(bin("study-cli", "trainkit-study.js"), [
  "run",
  "examples/studies/dose.yaml",
  "--max-workers",
  "2",
  ...resume,
  ...process.argv.slice(2),
]);
