// Real studies through the installed trainkit-study: every job a fresh trainkit-train process of the
// embedded engine. The orchestrator is killed with SIGKILL mid-study (its running job with it, as in
// a machine crash) and --resume finishes the study: the finished job is not run again and the
// interrupted one continues from its checkpoint.
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeSimulatedDataset } from "@trainkit/simulator";
import { describe, expect, it } from "vitest";
import { main as datagen } from "../packages/simulator/src/datagen-cli.ts";
import { BINS, ROOT, run, tempDir } from "./helpers.ts";

interface Event {
  readonly type: string;
  readonly index?: number;
  readonly status?: string;
  readonly executorId?: string;
}
const journal = (dir: string): Event[] =>
  existsSync(join(dir, "study.jsonl"))
    ? readFileSync(join(dir, "study.jsonl"), "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as Event)
    : [];

async function until(what: string, check: () => boolean, seconds = 120): Promise<void> {
  const end = Date.now() + seconds * 1000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("trainkit-study run (embedded engine)", () => {
  it("resumes after the orchestrator and its running job are killed with SIGKILL", async () => {
    const dir = tempDir("trainkit-study-kill-");
    await writeSimulatedDataset({
      trainOut: join(dir, "train.npz"),
      testOut: join(dir, "test.npz"),
      testCount: 8,
      positions: 40,
      seed: 2,
    });
    const out = join(dir, "runs/kill");
    writeFileSync(
      join(dir, "kill.yaml"),
      `name: kill\noutputDir: ${out}\nbase:\n  training:\n    trainDataFile: ${dir}/train.npz\n    nGroups: 24\n    nepochs: 6\n    batchSize: 8\n  model:\n    nFiltersScale: 1\n  execution:\n    checkpointMonitor: train_loss\nmatrix:\n  execution.seed: [1, 2, 3]\n`,
    );
    const child: ChildProcess = spawn(
      process.execPath,
      [BINS.study, "run", join(dir, "kill.yaml"), "--sequential"],
      {
        stdio: "ignore",
      },
    );
    // Job 0 done, job 1 past its first checkpoint.
    await until("job 1 to checkpoint", () => {
      const events = journal(out);
      const job1 = events.find((e) => e.type === "job" && e.index === 1 && e.status === "running");
      const ckpts = join(out, "jobs/0001-seed=2/checkpoints");
      return job1 !== undefined && existsSync(ckpts) && readdirSync(ckpts).some((f) => f.startsWith("last"));
    });
    const job1 = journal(out).find((e) => e.type === "job" && e.index === 1 && e.status === "running")!;
    child.kill("SIGKILL");
    process.kill(-Number(job1.executorId), "SIGKILL");
    await new Promise((r) => child.once("exit", r));

    const resumed = run("study", ["run", join(dir, "kill.yaml"), "--resume", "--sequential"], {
      timeout: 240_000,
    });
    expect(resumed.stderr).toContain("took over the lock");
    expect(resumed.status).toBe(0);
    const events = journal(out);
    const starts = (i: number) =>
      events.filter((e) => e.type === "job" && e.index === i && e.status === "running").length;
    expect([starts(0), starts(1), starts(2)]).toEqual([1, 2, 1]);
    expect(readFileSync(join(out, "logs/0001.train.log"), "utf8")).toMatch(/resuming from .*last/);
    const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as { status: string }[];
    expect(results.map((r) => r.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
    expect(existsSync(join(out, "report.html"))).toBe(true);
    // `report` rebuilds the same report from the directory alone.
    const before = readFileSync(join(out, "report.md"), "utf8");
    expect(run("study", ["report", out]).status).toBe(0);
    expect(readFileSync(join(out, "report.md"), "utf8")).toBe(before);
  }, 400_000);

  it("Ctrl-C stops the running job at a checkpoint (exit 130), and --resume finishes the study", async () => {
    const dir = tempDir("trainkit-study-int-");
    await writeSimulatedDataset({
      trainOut: join(dir, "train.npz"),
      testOut: join(dir, "test.npz"),
      testCount: 8,
      positions: 40,
      seed: 2,
    });
    const out = join(dir, "runs/int");
    writeFileSync(
      join(dir, "int.yaml"),
      `name: int\noutputDir: ${out}\nbase:\n  training:\n    trainDataFile: ${dir}/train.npz\n    nGroups: 24\n    nepochs: 8\n    batchSize: 8\n  model:\n    nFiltersScale: 1\n  execution:\n    checkpointMonitor: train_loss\nmatrix:\n  execution.seed: [1, 2]\n`,
    );
    const child = spawn(process.execPath, [BINS.study, "run", join(dir, "int.yaml"), "--sequential"], {
      stdio: "ignore",
    });
    await until("job 0 to checkpoint", () => {
      const ckpts = join(out, "jobs/0000-seed=1/checkpoints");
      return existsSync(ckpts) && readdirSync(ckpts).some((f) => f.startsWith("last"));
    });
    child.kill("SIGINT");
    const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    expect(code).toBe(130);
    const statuses = journal(out)
      .filter((e) => e.type === "job")
      .map((e) => `${e.index}:${e.status}`);
    expect(statuses).toEqual(["0:running", "0:interrupted"]);
    const resumed = run("study", ["run", join(dir, "int.yaml"), "--resume"], { timeout: 240_000 });
    expect(resumed.status).toBe(0);
    expect(readFileSync(join(out, "logs/0000.train.log"), "utf8")).toMatch(/resuming from .*last/);
    const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as {
      status: string;
      attempts: number;
    }[];
    expect(results.map((r) => [r.status, r.attempts])).toEqual([
      ["succeeded", 2],
      ["succeeded", 1],
    ]);
  }, 400_000);

  it("runs the example dose study (examples/studies/dose.yaml, shortened by global options) to its report", async () => {
    const cwd = tempDir("trainkit-study-example-");
    mkdirSync(join(cwd, "examples/studies"), { recursive: true });
    copyFileSync(join(ROOT, "examples/studies/dose.yaml"), join(cwd, "examples/studies/dose.yaml"));
    // The data, as docs/studies.md makes it with trainkit-datagen (fewer positions here).
    for (const dose of ["1e4", "1e6", "1e9"]) {
      const io = { stdout: { write: () => true }, stderr: { write: () => true } };
      const code = await datagen(
        [
          "--out",
          join(cwd, `examples/studies/data/dose_${dose}`),
          "--nphotons",
          dose,
          "--positions",
          "48",
          "--amplitude-min",
          "0.2",
          "--seed",
          "1",
        ],
        io as never,
      );
      expect(code).toBe(0);
    }
    const listed = run("study", ["run", "examples/studies/dose.yaml", "--list"], { cwd });
    expect(listed.status).toBe(0);
    expect(listed.stdout).toContain("12 of 12 job(s)");
    const result = run(
      "study",
      ["run", "examples/studies/dose.yaml", "--max-workers", "2", "--nepochs", "1", "--n-groups", "16"],
      { cwd, timeout: 400_000 },
    );
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const out = join(cwd, "runs/studies/dose");
    const rows = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as {
      status: string;
      axes: Record<string, unknown>;
      metrics: Record<string, number | null>;
    }[];
    expect(rows).toHaveLength(12);
    expect(rows.every((r) => r.status === "succeeded" && r.metrics.phaseSsim !== null)).toBe(true);
    expect(rows.map((r) => r.axes["training.nphotons"])).toEqual([
      1e4, 1e4, 1e4, 1e4, 1e6, 1e6, 1e6, 1e6, 1e9, 1e9, 1e9, 1e9,
    ]);
    const statistics = JSON.parse(readFileSync(join(out, "statistics.json"), "utf8"));
    expect(statistics.variations).toHaveLength(6);
    expect(
      statistics.variations.every(
        (v: { metrics: { phaseSsim: { n: number } } }) => v.metrics.phaseSsim.n === 2,
      ),
    ).toBe(true);
    const html = readFileSync(join(out, "report.html"), "utf8");
    expect(html).toContain("<svg");
    expect(html).not.toMatch(/<script|https?:\/\//);
    expect(readFileSync(join(out, "results.csv"), "utf8").split("\n")[0]).toContain("training.nphotons,loss");
    // Every job's audit says which spec line set its dose.
    const audit = JSON.parse(
      readFileSync(join(out, "jobs/0004-nphotons=1e6,loss=nll,rep=1/audit.json"), "utf8"),
    );
    const nphotons = audit.audit.find((a: { path: string }) => a.path === "training.nphotons");
    const specLines = readFileSync(join(cwd, "examples/studies/dose.yaml"), "utf8").split("\n");
    const line = specLines.findIndex((l) => l.startsWith("  training.nphotons:")) + 1;
    expect(nphotons.origin).toMatchObject({
      kind: "study",
      axis: "training.nphotons",
      file: "examples/studies/dose.yaml",
      line,
    });
  }, 600_000);
});
