// Submitting a 10,000-job study to Slurm: how many sbatch calls and how long the executor takes.
//  - "stand-in sbatch": MaxArraySize 1001 (Slurm's default) reported by a stand-in scontrol, and a
//    stand-in sbatch that only counts calls: our own cost (10,000 argv files, tables, scripts, spawns).
//  - "real sbatch": the local cluster (scripts/slurm-local.sh), 200 held jobs (--hold), to measure the
//    cost of one real sbatch call; the 10,000-job figure at MaxArraySize 1001 is the first plus
//    10 such calls. Skipped when no cluster answers.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TrainingPayload } from "@trainkit/factory";
import { afterAll, bench, describe } from "vitest";
import { createSlurmExecutor } from "../src/slurm/index.ts";
import type { ExecutorContext, PlannedJob } from "../src/types.ts";

const base = mkdtempSync(join(tmpdir(), "trainkit-slurm-bench-"));
const counter = join(base, "sbatch-calls");
writeFileSync(counter, "");
const fakeSbatch = join(base, "sbatch");
writeFileSync(fakeSbatch, `#!/bin/sh\necho >>${counter}\nwc -l <${counter}\n`);
const fakeScontrol = join(base, "scontrol");
writeFileSync(fakeScontrol, "#!/bin/sh\necho 'MaxArraySize            = 1001'\n");
chmodSync(fakeSbatch, 0o755);
chmodSync(fakeScontrol, 0o755);

// The executor reads only index, dir and commands; the payload is not part of submission.
const payload = {} as TrainingPayload;

function jobs(dir: string, n: number): PlannedJob[] {
  return Array.from({ length: n }, (_, index) => ({
    index,
    label: `lr=${index}`,
    dir: join(dir, "jobs", `${index}-lr=${index}`),
    axes: { lr: index },
    variation: `lr=${index}`,
    repeat: null,
    fold: null,
    name: null,
    payload,
    sha256: "0".repeat(64),
    commands: [
      {
        step: "train",
        argv: ["trainkit-train", "--payload", join(dir, "jobs", `${index}-lr=${index}`, "payload.json")],
      },
      { step: "infer", argv: ["trainkit-infer", "--from-run", join(dir, "jobs", `${index}-lr=${index}`)] },
    ],
  }));
}

const ctx = (studyDir: string): ExecutorContext => ({
  studyDir,
  maxWorkers: 64,
  jobTimeout: 3600,
  env: process.env,
  io: { stdout: () => {}, stderr: () => {} },
});

let study = 0;
const calls = () => readFileSync(counter, "utf8").split("\n").length - 1;

const clusterUp = (() => {
  try {
    return /^(idle|mixed|allocated)/m.test(
      execFileSync("sinfo", ["-h", "-o", "%T"], { encoding: "utf8", timeout: 5000 }),
    );
  } catch {
    return false;
  }
})();
const held: string[] = [];

afterAll(() => {
  if (held.length > 0) execFileSync("scancel", held);
});

describe("Slurm executor: submit", () => {
  bench(
    "10,000 jobs, MaxArraySize 1001 (stand-in sbatch)",
    async () => {
      const dir = join(base, `s${study++}`);
      const before = calls();
      const executor = createSlurmExecutor({}, { commands: { sbatch: fakeSbatch, scontrol: fakeScontrol } });
      const started = performance.now();
      await executor.submit(jobs(dir, 10_000), ctx(dir));
      console.log(
        `10,000 jobs: ${calls() - before} sbatch calls, ${executor.chunks().length} chunks, ${Math.round(performance.now() - started)} ms`,
      );
    },
    { iterations: 3, warmupIterations: 0, time: 0 },
  );

  bench.skipIf(!clusterUp)(
    "200 held jobs on the local cluster (real sbatch)",
    async () => {
      const dir = join(base, `s${study++}`);
      const executor = createSlurmExecutor({ extra: ["--hold"] });
      const started = performance.now();
      await executor.submit(jobs(dir, 200), ctx(dir));
      const ms = performance.now() - started;
      const chunks = executor.chunks();
      held.push(...chunks.map((c) => c.arrayJobId));
      console.log(
        `200 jobs: ${chunks.length} real sbatch calls, ${Math.round(ms)} ms, ${(ms / chunks.length).toFixed(1)} ms per call`,
      );
    },
    { iterations: 2, warmupIterations: 0, time: 0 },
  );
});
