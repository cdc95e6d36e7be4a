import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { isStudyError } from "../src/errors.ts";
import { readJournal } from "../src/journal.ts";
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
});
