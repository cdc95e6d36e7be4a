import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bench, describe } from "vitest";
import { planStudy } from "../src/plan.ts";
import { runStudy } from "../src/run.ts";
import { parseStudySpec } from "../src/spec.ts";
import { tempDir, writeDoseData } from "../test/helpers.ts";

// Issue budgets: planning a 10,000-job matrix with full audit in at most 1 s on 2 cores (each data
// file opened once); the local executor's overhead at most 50 ms a job, 200 trivial jobs on 2
// workers within 1.1x of the ideal.
const data = tempDir();
await writeDoseData(data, ["1e4", "1e6", "1e9", "1e5"], 24);
const specText = (out: string, lrs: number) => `name: big
outputDir: ${out}
base:
  training:
    trainDataFile: ${data}/data/dose_{training.nphotons}/train.npz
    testDataFile: ${data}/data/dose_{training.nphotons}/test.npz
    nGroups: 16
matrix:
  training.nphotons: [1e4, 1e5, 1e6, 1e9]
  training.batchSize: [8, 16, 32, 64, 128]
  execution.learningRate: [${Array.from({ length: lrs }, (_, i) => (i + 1) * 1e-4).join(", ")}]
  loss:
    nll: { training: { nllWeight: 1, maeWeight: 0 } }
    mae: { training: { nllWeight: 0, maeWeight: 1 } }
repeats: 5
`;
const big = await parseStudySpec(specText(join(tempDir(), "out"), 50), "big.yaml");

describe("planStudy", () => {
  bench(
    "10,000 jobs (4 doses x 5 batch sizes x 50 learning rates x 2 losses x 5 repeats), full audit",
    async () => {
      const plan = await planStudy(big);
      if (plan.jobs.length !== 10_000) throw new Error(`planned ${plan.jobs.length}`);
    },
    { iterations: 3, warmupIterations: 1 },
  );
});

const TRIVIAL = fileURLToPath(new URL("../test/fixtures/fake-trainer.mjs", import.meta.url));
describe("local executor", () => {
  // Each trivial job is a node process that sleeps nepochs * 10 ms = 200 ms; ideal for 200 jobs on
  // 2 workers: 100 x (200 ms + node start-up).
  bench(
    "200 trivial jobs, --max-workers 2",
    async () => {
      const out = join(tempDir(), "study");
      const loaded = await parseStudySpec(
        `name: trivial\noutputDir: ${out}\nbase:\n  training:\n    trainDataFile: ${data}/data/dose_1e6/train.npz\n    nepochs: 20\n    nGroups: 16\nmatrix:\n  execution.seed: [${Array.from({ length: 200 }, (_, i) => i).join(", ")}]\n`,
        "trivial.yaml",
      );
      const plan = await planStudy(loaded, { programs: { train: [process.execPath, TRIVIAL], infer: [] } });
      const sink = () => {};
      const started = performance.now();
      const outcome = await runStudy(plan, { io: { stdout: sink, stderr: sink }, maxWorkers: 2 });
      if (outcome.counts.succeeded !== 200) throw new Error(JSON.stringify(outcome.counts));
      const total = performance.now() - started;
      console.log(`200 trivial jobs: ${(total / 1000).toFixed(2)} s`);
    },
    { iterations: 1, warmupIterations: 0 },
  );
});
