import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { isStudyError } from "../src/errors.ts";
import { readJournal } from "../src/journal.ts";
import { createLocalExecutor } from "../src/local-executor.ts";
import { planStudy } from "../src/plan.ts";
import { collectResults } from "../src/results.ts";
import { runStudy } from "../src/run.ts";
import { parseStudySpec } from "../src/spec.ts";
import { tempDir, writeDoseData } from "./helpers.ts";

const FAKE = fileURLToPath(new URL("fixtures/fake-trainer.mjs", import.meta.url));
const programs = { train: [process.execPath, FAKE], infer: [process.execPath, FAKE] };
let data: string;

beforeAll(async () => {
  data = tempDir();
  await writeDoseData(data, ["1e6"]);
});

async function study(groups: readonly number[], extra = "", name = "s") {
  const out = join(tempDir(), "study");
  const text = `name: ${name}
outputDir: ${out}
base:
  training:
    trainDataFile: ${data}/data/dose_1e6/train.npz
    nepochs: 2
matrix:
  training.nGroups: [${groups.join(", ")}]
${extra}`;
  return { out, loaded: await parseStudySpec(text, join(out, "..", "spec.yaml")) };
}

const io = () => {
  const lines: string[] = [];
  return { lines, io: { stdout: (t: string) => lines.push(t), stderr: (t: string) => lines.push(t) } };
};

describe("runStudy", () => {
  it("runs every job once, journals each state change and keeps going past a failure", async () => {
    const { out, loaded } = await study([8, 1, 16]);
    const plan = await planStudy(loaded, { programs });
    const { io: sink } = io();
    const outcome = await runStudy(plan, { io: sink, maxWorkers: 2 });
    expect(outcome.exitCode).toBe(1);
    expect(outcome.counts.succeeded).toBe(2);
    expect(outcome.counts.failed).toBe(1);
    const events = readJournal(join(out, "study.jsonl"))!;
    expect(events[0]!.type).toBe("planned");
    expect(events.filter((e) => e.type === "job" && e.status === "running")).toHaveLength(3);
    expect(events.at(-1)!.type).toBe("finished");
    const { rows } = await collectResults(out);
    expect(rows.map((r) => r.status)).toEqual(["succeeded", "failed", "succeeded"]);
    expect(rows[0]!.metrics.trainLoss).toBeCloseTo(0.2);
    // Two workers on this machine's cores: each job gets its share of the threads.
    const manifest = JSON.parse(readFileSync(join(rows[0]!.runDir, "manifest.json"), "utf8"));
    expect(Number(manifest.details.threads)).toBeGreaterThanOrEqual(1);
  });

  it("retries a transient failure (exit 75) with backoff, and records each attempt", async () => {
    const { out, loaded } = await study([2], "retries: 2\n");
    const plan = await planStudy(loaded, { programs });
    const outcome = await runStudy(plan, { io: io().io, retryBaseSeconds: 0.05 });
    expect(outcome.counts.succeeded).toBe(1);
    const events = readJournal(join(out, "study.jsonl"))!;
    expect(events.filter((e) => e.type === "retrying")).toHaveLength(1);
    const { rows } = await collectResults(out);
    expect(rows[0]!.attempts).toBe(2);
    // The second attempt continued the run directory.
    const manifest = JSON.parse(readFileSync(join(rows[0]!.runDir, "manifest.json"), "utf8"));
    expect(manifest.details.resumed).toBe(true);
  });

  it("retries a job that ran out of memory, as a transient failure", async () => {
    const { loaded } = await study([5], "retries: 1\n");
    const plan = await planStudy(loaded, { programs });
    const outcome = await runStudy(plan, { io: io().io, retryBaseSeconds: 0.05 });
    expect(outcome.counts.succeeded).toBe(1);
  });

  it("does not retry a real failure, and stops the study with --fail-fast", async () => {
    const { loaded } = await study([1, 8, 16, 32], "retries: 3\n");
    const plan = await planStudy(loaded, { programs });
    const outcome = await runStudy(plan, { io: io().io, maxWorkers: 1, failFast: true });
    expect(outcome.counts.failed).toBe(1);
    expect(outcome.counts.skipped).toBe(3);
  });

  it("kills a job past budget.jobTimeout and records timeout", async () => {
    const { loaded } = await study([3, 8], "budget:\n  jobTimeout: 1\n");
    const plan = await planStudy(loaded, { programs });
    const outcome = await runStudy(plan, { io: io().io, maxWorkers: 2 });
    expect(outcome.counts.timeout).toBe(1);
    expect(outcome.counts.succeeded).toBe(1);
  }, 30_000);

  it("skips jobs that would pass the wall-time budget", async () => {
    const { loaded } = await study([8, 16, 32], "budget:\n  wallTime: 0.001\n");
    const plan = await planStudy(loaded, { programs });
    const outcome = await runStudy(plan, { io: io().io, maxWorkers: 1 });
    expect(outcome.counts.skipped).toBeGreaterThanOrEqual(2);
  });

  it("--rerun failed runs only the failed job again; a second run without --resume or --rerun is refused", async () => {
    const { out, loaded } = await study([8, 4]);
    const plan = await planStudy(loaded, { programs });
    const first = await runStudy(plan, { io: io().io, maxWorkers: 1 });
    expect(first.counts.failed).toBe(1); // SIGKILL on the first attempt, no retries
    const again = await runStudy(plan, { io: io().io }).catch((e) => e);
    expect(isStudyError(again, "OUTPUT_DIR_TAKEN")).toBe(true);
    const resumed = await runStudy(plan, { io: io().io, rerun: "failed" });
    expect(resumed.counts.succeeded).toBe(2);
    const events = readJournal(join(out, "study.jsonl"))!;
    // Job 0 ran once in all.
    expect(events.filter((e) => e.type === "job" && e.index === 0 && e.status === "running")).toHaveLength(1);
  });

  it("refuses a changed spec on resume, naming what changed", async () => {
    const { out, loaded } = await study([8]);
    await runStudy(await planStudy(loaded, { programs }), { io: io().io });
    const changed = await parseStudySpec(
      `name: s\noutputDir: ${out}\nbase:\n  training:\n    trainDataFile: ${data}/data/dose_1e6/train.npz\n    nepochs: 3\nmatrix:\n  training.nGroups: [8]\n`,
      "spec.yaml",
    );
    const error = await runStudy(await planStudy(changed, { programs }), { io: io().io, resume: true }).catch(
      (e) => e,
    );
    expect(isStudyError(error, "SPEC_CHANGED")).toBe(true);
    expect(error.message).toContain("base.training.nepochs");
    expect(existsSync(join(out, ".lock"))).toBe(false);
  });

  it("skips jobs that would pass budget.maxCost, estimated from the finished ones", async () => {
    const { loaded } = await study([8, 16, 32], "budget:\n  maxCost: 0.01\ncost:\n  perHour: 1000000\n");
    const plan = await planStudy(loaded, { programs });
    const outcome = await runStudy(plan, { io: io().io, maxWorkers: 1 });
    expect(outcome.counts.succeeded).toBe(1);
    expect(outcome.counts.skipped).toBe(2);
  });

  it("gives each GPU job its own CUDA_VISIBLE_DEVICES when several GPUs are present", async () => {
    const { loaded } = await study([8, 16], "", "gpu");
    const withGpu = await parseStudySpec(
      `name: gpu\noutputDir: ${loaded.spec.outputDir}\nbase:\n  training:\n    trainDataFile: ${data}/data/dose_1e6/train.npz\n    nepochs: 30\n  execution:\n    accelerator: gpu\n    devices: 1\n  launcher:\n    backend: process\n    command: fake\nmatrix:\n  training.nGroups: [8, 16]\n`,
      "gpu.yaml",
    );
    const plan = await planStudy(withGpu, { programs });
    const outcome = await runStudy(plan, {
      io: io().io,
      maxWorkers: 2,
      executor: createLocalExecutor({ gpus: 2 }),
    });
    expect(outcome.counts.succeeded).toBe(2);
    const { rows } = await collectResults(loaded.spec.outputDir);
    const devices = rows.map(
      (r) => JSON.parse(readFileSync(join(r.runDir, "manifest.json"), "utf8")).details.cuda,
    );
    expect(devices.sort()).toEqual(["0", "1"]);
  });

  it("keeps job indices and directories when --replan appends a value to an axis", async () => {
    const { out } = await study([8, 16]);
    const two = (values: string) =>
      parseStudySpec(
        `name: s\noutputDir: ${out}\nbase:\n  training:\n    trainDataFile: ${data}/data/dose_1e6/train.npz\n    nepochs: 2\nmatrix:\n  training.nGroups: [8, 16]\n  execution.seed: [${values}]\n`,
        "spec.yaml",
      );
    const first = await planStudy(await two("1, 2"), { programs });
    await runStudy(first, { io: io().io });
    const manifest = JSON.parse(readFileSync(join(out, "study-manifest.json"), "utf8")) as {
      jobs: { key: string; index: number }[];
    };
    const grown = await planStudy(await two("1, 2, 3"), {
      programs,
      previousIndices: new Map(manifest.jobs.map((j) => [j.key, j.index])),
    });
    expect(grown.jobs.map((j) => `${j.index}:${j.label}`)).toEqual(
      [
        "0:nGroups=8,seed=1",
        "1:nGroups=8,seed=2",
        "4:nGroups=8,seed=3",
        "2:nGroups=16,seed=1",
        "3:nGroups=16,seed=2",
        "5:nGroups=16,seed=3",
      ].sort((a, b) => Number(a.split(":")[0]) - Number(b.split(":")[0])),
    );
    const refused = await runStudy(grown, { io: io().io, resume: true }).catch((e) => e);
    expect(isStudyError(refused, "SPEC_CHANGED")).toBe(true);
    expect(refused.message).toContain("matrix.execution.seed");
    const outcome = await runStudy(grown, { io: io().io, resume: true, replan: true });
    expect(outcome.counts.succeeded).toBe(6);
    const events = readJournal(join(out, "study.jsonl"))!;
    // The four earlier jobs did not run again.
    expect(
      events
        .filter((e) => e.type === "job" && e.status === "running")
        .map((e) => (e as { index: number }).index)
        .sort(),
    ).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("refuses an output directory that holds something else or another study, writing nothing", async () => {
    const { out, loaded } = await study([8]);
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, "notes.txt"), "mine");
    const plan = await planStudy(loaded, { programs });
    const error = await runStudy(plan, { io: io().io }).catch((e) => e);
    expect(isStudyError(error, "OUTPUT_DIR_TAKEN")).toBe(true);
    expect(readdirSync(out)).toEqual(["notes.txt"]);
    const other = await study([8], "", "first");
    await runStudy(await planStudy(other.loaded, { programs }), { io: io().io });
    const second = await parseStudySpec(
      `name: second\noutputDir: ${other.out}\nbase:\n  training:\n    trainDataFile: ${data}/data/dose_1e6/train.npz\n    nGroups: 8\n`,
      "second.yaml",
    );
    const taken = await runStudy(await planStudy(second, { programs }), { io: io().io, resume: true }).catch(
      (e) => e,
    );
    expect(isStudyError(taken, "OUTPUT_DIR_TAKEN")).toBe(true);
    expect(taken.message).toContain('belongs to the study "first"');
  });
});
