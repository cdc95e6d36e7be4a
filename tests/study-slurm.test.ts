// The same study through the local executor and through `--executor slurm` on a real one-node
// Slurm 22.05 (scripts/slurm-local.sh; .ci/run starts it): submit returns once the jobs are queued,
// `watch` reattaches from a fresh process, and `collect` writes the same report as the local run.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeSimulatedDataset } from "@trainkit/simulator";
import { describe, expect, it } from "vitest";
import { BINS, run, tempDir } from "./helpers.ts";

function slurmProblem(): string | undefined {
  try {
    const state = execFileSync("sinfo", ["-h", "-o", "%T"], { encoding: "utf8", timeout: 10_000 });
    return /^(idle|mixed|allocated)/m.test(state) ? undefined : `sinfo says ${state.trim() || "nothing"}`;
  } catch (error) {
    return `sinfo failed: ${(error as Error).message.split("\n")[0]}`;
  }
}
const problem = slurmProblem();

describe.skipIf(problem !== undefined)("trainkit-study --executor slurm (real Slurm 22.05)", () => {
  it("submits, reattaches with watch, and collect writes the report the local executor writes", async () => {
    const dir = tempDir("trainkit-study-slurm-");
    await writeSimulatedDataset({
      trainOut: join(dir, "train.npz"),
      testOut: join(dir, "test.npz"),
      testCount: 8,
      positions: 32,
      seed: 4,
    });
    const spec = (out: string) =>
      `name: twins\noutputDir: ${out}\nbase:\n  training:\n    trainDataFile: ${dir}/train.npz\n    testDataFile: ${dir}/test.npz\n    nGroups: 16\n    nepochs: 1\n    batchSize: 8\n  model:\n    nFiltersScale: 1\nmatrix:\n  execution.seed: [1, 2]\nsteps: [train, infer]\n`;
    writeFileSync(join(dir, "local.yaml"), spec(join(dir, "runs/local")));
    writeFileSync(join(dir, "slurm.yaml"), spec(join(dir, "runs/slurm")));
    expect(
      run("study", ["run", join(dir, "local.yaml"), "--max-workers", "2"], { timeout: 300_000 }).status,
    ).toBe(0);

    const submitted = run(
      "study",
      ["run", join(dir, "slurm.yaml"), "--executor", "slurm", "--max-workers", "2"],
      { timeout: 120_000 },
    );
    expect(submitted.stderr).toBe("");
    expect(submitted.status).toBe(0);
    expect(submitted.stdout).toContain("2 job(s) queued on slurm");
    const out = join(dir, "runs/slurm");
    const watched = run("study", ["watch", out], { timeout: 400_000 });
    expect(watched.status, watched.stderr).toBe(0);
    expect(watched.stdout).toMatch(/succeeded\s+0001-seed=2/);
    expect(run("study", ["collect", out]).status).toBe(0);
    const status = run("study", ["status", out]);
    expect(status.stdout).toContain("done 2, running 0, failed 0");
    expect(readFileSync(join(out, "report.md"), "utf8")).toBe(
      readFileSync(join(dir, "runs/local/report.md"), "utf8"),
    );
    const manifest = JSON.parse(readFileSync(join(out, "study-manifest.json"), "utf8"));
    expect(manifest.executor).toBe("slurm");
    expect(manifest.jobs.map((j: { status: string }) => j.status)).toEqual(["succeeded", "succeeded"]);
  }, 600_000);

  it("reattaches with watch after `run --wait` was killed with SIGKILL, and the jobs finish", async () => {
    const dir = tempDir("trainkit-study-slurm-kill-");
    await writeSimulatedDataset({
      trainOut: join(dir, "train.npz"),
      testCount: 8,
      testOut: join(dir, "test.npz"),
      positions: 32,
      seed: 5,
    });
    const out = join(dir, "runs/kill");
    writeFileSync(
      join(dir, "kill.yaml"),
      `name: kill\noutputDir: ${out}\nbase:\n  training:\n    trainDataFile: ${dir}/train.npz\n    nGroups: 16\n    nepochs: 8\n    batchSize: 8\n  model:\n    nFiltersScale: 1\nmatrix:\n  execution.seed: [1, 2, 3]\n`,
    );
    // Jobs of a few seconds each: with 2 s jobs the polls (2, 4, 8 s apart) can miss every running
    // one, and the kill must come while one runs.
    const child = spawn(
      process.execPath,
      [BINS.study, "run", join(dir, "kill.yaml"), "--executor", "slurm", "--wait", "--max-workers", "1"],
      {
        stdio: "ignore",
      },
    );
    const journal = () =>
      existsSync(join(out, "study.jsonl")) ? readFileSync(join(out, "study.jsonl"), "utf8") : "";
    for (let i = 0; i < 600 && !/"status":"running"/.test(journal()); i++)
      await new Promise((r) => setTimeout(r, 200));
    expect(journal()).toMatch(/"status":"running"/);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const watched = run("study", ["watch", out], { timeout: 400_000 });
    expect(watched.stderr).toContain("took over the lock");
    expect(watched.status, watched.stderr).toBe(0);
    const rows = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as { status: string }[];
    expect(rows.map((r) => r.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
  }, 600_000);
});

describe.skipIf(problem === undefined)("trainkit-study --executor slurm", () => {
  it.skip(`skipped: no Slurm cluster here (${problem})`, () => {});
});
