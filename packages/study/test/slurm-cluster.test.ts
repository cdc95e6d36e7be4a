// The Slurm executor against a real Slurm 22.05 (the one-node cluster of scripts/slurm-local.sh, which
// .ci/run starts; this file starts it too when the packages are installed). Every scenario is
// submitted up front so that they run side by side; the whole file takes well under two minutes.
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { saveNpz } from "@trainkit/data";
import { createTrainingPayload, type TrainingPayload } from "@trainkit/factory";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createSlurmExecutor,
  isSlurmError,
  type SlurmExecutor,
  type SlurmSettingsInput,
} from "../src/slurm/index.ts";
import type { ExecutorContext, JobCommand, JobEvent, PlannedJob } from "../src/types.ts";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../..", import.meta.url));

/** Starts the local cluster when it is not up (never installs from a test); the reason when impossible. */
function clusterProblem(): string | undefined {
  const ready = () => {
    try {
      const state = execFileSync("sinfo", ["-h", "-o", "%T"], { encoding: "utf8", timeout: 10_000 });
      execFileSync("sacct", ["-n", "-X", "-j", "1"], { timeout: 10_000, stdio: "ignore" });
      return /^(idle|mixed|allocated)/m.test(state);
    } catch {
      return false;
    }
  };
  if (ready()) return undefined;
  try {
    execFileSync("bash", [join(root, "scripts/slurm-local.sh")], {
      env: { ...process.env, SLURM_LOCAL_INSTALL: "0" },
      timeout: 120_000,
      stdio: "pipe",
    });
  } catch (error) {
    const err = error as { stderr?: Buffer; message: string };
    return (err.stderr?.toString().trim() || err.message).split("\n").at(-1);
  }
  return ready() ? undefined : "scripts/slurm-local.sh ran but sinfo/sacct do not answer";
}

const problem = clusterProblem();
const maxArraySize = (() => {
  if (problem) return 0;
  const config = execFileSync("scontrol", ["show", "config"], { encoding: "utf8" });
  return Number(/MaxArraySize\s*=\s*(\d+)/.exec(config)?.[1]);
})();

const base = mkdtempSync(join(tmpdir(), "trainkit-slurm-"));
let payload: TrainingPayload;

function context(studyDir: string, maxWorkers: number, jobTimeout: number | null = null) {
  const stderr: string[] = [];
  const ctx: ExecutorContext = {
    studyDir,
    maxWorkers,
    jobTimeout,
    env: process.env,
    io: { stdout: () => {}, stderr: (text) => stderr.push(text) },
  };
  return { ctx, stderr };
}

/** A PlannedJob whose one command is `node -e <code> --` (arguments after `--` reach the program). */
function job(studyDir: string, index: number, code: string, extra: JobCommand[] = []): PlannedJob {
  return {
    index,
    label: `case=${index}`,
    dir: join(studyDir, "jobs", `${index}-case=${index}`),
    axes: { case: index },
    variation: `case=${index}`,
    repeat: null,
    fold: null,
    name: null,
    payload,
    sha256: "0".repeat(64),
    commands: [{ step: "train", argv: [process.execPath, "-e", code, "--"] }, ...extra],
  };
}

interface Study {
  readonly dir: string;
  readonly executor: SlurmExecutor;
  readonly ctx: ExecutorContext;
  readonly stderr: string[];
  readonly events: JobEvent[];
}

async function study(
  name: string,
  settings: SlurmSettingsInput,
  maxWorkers: number,
  jobs: (dir: string) => PlannedJob[],
  options: { jobTimeout?: number; commands?: Record<string, string> } = {},
): Promise<Study> {
  const dir = join(base, name);
  const executor = createSlurmExecutor(settings, options.commands ? { commands: options.commands } : {});
  const { ctx, stderr } = context(dir, maxWorkers, options.jobTimeout ?? null);
  await executor.submit(jobs(dir), ctx);
  return { dir, executor, ctx, stderr, events: [] };
}

/** Polls (every 0.5 s, not the production backoff) until `done` holds; returns the final status per index. */
async function pollUntil(s: Study, done: (latest: Map<number, JobEvent>) => boolean, seconds = 90) {
  const deadline = Date.now() + seconds * 1000;
  const latest = new Map<number, JobEvent>();
  for (const e of s.events) latest.set(e.index, e);
  while (!done(latest)) {
    if (Date.now() > deadline) {
      throw new Error(`timed out; last events: ${JSON.stringify([...latest.values()])}`);
    }
    await new Promise((r) => setTimeout(r, 500));
    for (const e of await s.executor.poll(s.ctx)) {
      s.events.push(e);
      latest.set(e.index, e);
    }
  }
  return latest;
}

const FINAL = new Set([
  "succeeded",
  "failed",
  "timeout",
  "out_of_memory",
  "node_fail",
  "cancelled",
  "interrupted",
  "suspect",
]);
const allFinal = (n: number) => (latest: Map<number, JobEvent>) =>
  latest.size === n && [...latest.values()].every((e) => FINAL.has(e.status));

const slurmJobId = (s: Study, index: number) => s.executor.executorIdOf(index)!;
const recordOf = (s: Study, index: number) =>
  JSON.parse(readFileSync(join(s.dir, "slurm", "records", String(index), "status.json"), "utf8"));

// Programs the jobs run (they find their directory in TKSTUDY_JOB_DIR).
const ARGV_ECHO = `require("fs").writeFileSync(process.env.TKSTUDY_JOB_DIR + "/argv.json", JSON.stringify(process.argv.slice(1)))`;
const SLEEP_TRAP_USR1 = `process.on("SIGUSR1", () => require("fs").writeFileSync(process.env.TKSTUDY_JOB_DIR + "/usr1", "checkpoint")); setTimeout(() => {}, 300000)`;
const EAT_MEMORY = `const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1))`;
const CHECKPOINTING = `
const fs = require("fs"), dir = process.env.TKSTUDY_JOB_DIR;
if (process.argv.includes("--resume")) {
  const step = Number(fs.readFileSync(dir + "/checkpoint", "utf8"));
  fs.writeFileSync(dir + "/result", "resumed from step " + step + " in attempt " + process.env.TKSTUDY_ATTEMPT);
} else {
  fs.writeFileSync(dir + "/manifest.json", "{}");
  fs.writeFileSync(dir + "/checkpoint", "41");
  setTimeout(() => {}, 300000);
}`;

const WEIRD_ARGS = ["two words", "it's", '"double"', "$(touch /tmp/trainkit-pwned)", "a\nb", "*", "--", "\\"];

const studies: Record<string, Study> = {};

describe.skipIf(problem !== undefined)("createSlurmExecutor on a real Slurm 22.05 (one-node cluster)", () => {
  beforeAll(async () => {
    const data = join(base, "train.npz");
    await saveNpz(data, {
      diffraction: { dtype: "f4", shape: [4, 64, 64], data: new Float32Array(4 * 64 * 64).fill(0.5) },
      probeGuess: { dtype: "c8", shape: [64, 64], data: new Float32Array(64 * 64 * 2).fill(1) },
      objectGuess: { dtype: "c8", shape: [128, 128], data: new Float32Array(128 * 128 * 2).fill(1) },
      xcoords: { dtype: "f8", shape: [4], data: Float64Array.from([40, 41, 42, 43]) },
      ycoords: { dtype: "f8", shape: [4], data: Float64Array.from([40, 41, 42, 43]) },
    });
    payload = await createTrainingPayload({
      trainDataFile: data,
      outputDir: join(base, "run"),
      overrides: { training: { nGroups: 4 } },
    });
    const n = maxArraySize + 2; // one chunk more than MaxArraySize allows
    const flaky = join(base, "flaky-sbatch");
    writeFileSync(
      flaky,
      `#!/bin/bash\nif [[ ! -f ${base}/flaky-once ]]; then touch ${base}/flaky-once; echo "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation" >&2; exit 1; fi\nexec sbatch "$@"\n`,
    );
    const noAccounting = join(base, "sacct-disabled");
    writeFileSync(noAccounting, "#!/bin/bash\necho 'Slurm accounting storage is disabled' >&2\nexit 1\n");
    chmodSync(flaky, 0o755);
    chmodSync(noAccounting, 0o755);
    const made = await Promise.all([
      study("basic", { timeLimit: 300 }, 3, (dir) =>
        Array.from({ length: n }, (_, i) =>
          i === 1
            ? job(dir, i, "process.exit(3)")
            : i === 2
              ? job(dir, i, ARGV_ECHO, [
                  {
                    step: "infer",
                    argv: [
                      process.execPath,
                      "-e",
                      ARGV_ECHO.replace("argv.json", "infer.json"),
                      "--",
                      ...WEIRD_ARGS,
                    ],
                  },
                ])
              : job(dir, i, i === 0 ? `${ARGV_ECHO}` : "0"),
        ).map((j, i) =>
          i === 0
            ? { ...j, commands: [{ step: "train" as const, argv: [...j.commands[0]!.argv, ...WEIRD_ARGS] }] }
            : j,
        ),
      ),
      study("timeout", { timeLimit: 300, signalSeconds: 290 }, 1, (dir) => [job(dir, 0, SLEEP_TRAP_USR1)]),
      study("memory", { mem: "100M" }, 1, (dir) => [job(dir, 0, EAT_MEMORY)]),
      study("requeue", { requeue: true }, 1, (dir) => [job(dir, 0, CHECKPOINTING)]),
      study("cancel", {}, 1, (dir) => [job(dir, 0, "setTimeout(() => {}, 300000)"), job(dir, 1, "0")]),
      study("no-accounting", {}, 2, (dir) => [job(dir, 0, "0"), job(dir, 1, "process.exit(3)")], {
        commands: { sacct: noAccounting },
      }),
      study("flaky", {}, 1, (dir) => [job(dir, 0, "0")], { commands: { sbatch: flaky } }),
    ]);
    for (const s of made) studies[s.dir.slice(base.length + 1)] = s;
  }, 60_000);

  afterAll(async () => {
    const ids = Object.values(studies).flatMap((s) => s.executor.chunks().map((c) => c.arrayJobId));
    if (ids.length > 0) await run("scancel", ids).catch(() => {});
  });

  it("splits a study larger than MaxArraySize into chunks and records each job's state", async () => {
    const s = studies.basic!;
    const n = maxArraySize + 2;
    expect(s.executor.chunks().map((c) => c.size)).toEqual([maxArraySize, 2]);
    const latest = await pollUntil(s, allFinal(n));
    const entries = [...latest.values()].sort((a, b) => a.index - b.index);
    const statuses = entries.map((e) => e.status);
    // On a failure the message names the verdict's reason (which source disagreed).
    expect(statuses, JSON.stringify(entries)).toEqual([
      "succeeded",
      "failed",
      ...Array(n - 2).fill("succeeded"),
    ]);
    expect(latest.get(1)).toMatchObject({ exitCode: 3, attempt: 1 });
    expect(latest.get(0)!.executorId).toMatch(/^\d+_0$/);
    // Arguments reach the program exactly, with no shell in between.
    const echoed = JSON.parse(readFileSync(join(s.dir, "jobs/0-case=0/argv.json"), "utf8"));
    expect(echoed).toEqual(WEIRD_ARGS);
    expect(JSON.parse(readFileSync(join(s.dir, "jobs/2-case=2/infer.json"), "utf8"))).toEqual(WEIRD_ARGS);
    expect(existsSync("/tmp/trainkit-pwned")).toBe(false);
    // The job's own completion record.
    const record = recordOf(s, 1);
    expect(record).toMatchObject({ state: "exited", exitCode: 3, index: 1, attempt: 1, restartCount: 0 });
    expect(`${record.arrayJobId}_${record.arrayTaskId}`).toBe(slurmJobId(s, 1));
    // The second chunk waited for the first (maxWorkers holds across chunks).
    const [first, second] = s.executor.chunks();
    const { stdout } = await run("sacct", [
      "-X",
      "-P",
      "-n",
      "--format=JobID,Start,End",
      "-j",
      `${first!.arrayJobId},${second!.arrayJobId}`,
    ]);
    const rows = stdout
      .trim()
      .split("\n")
      .map((l) => l.split("|"));
    const lastEnd = Math.max(
      ...rows.filter((r) => r[0]!.startsWith(`${first!.arrayJobId}_`)).map((r) => Date.parse(r[2]!)),
    );
    const firstStart = Math.min(
      ...rows.filter((r) => r[0]!.startsWith(`${second!.arrayJobId}_`)).map((r) => Date.parse(r[1]!)),
    );
    expect(firstStart).toBeGreaterThanOrEqual(lastEnd);
  }, 90_000);

  it("reports TIMEOUT after SIGUSR1 reached the program, polled by a reattached executor", async () => {
    const s = studies.timeout!;
    // --time=5 with --signal=B:USR1@290: SIGUSR1 comes ~10 s after the start; the script forwards it.
    // The job is submitted with the others before the first test: its time limit leaves the tests
    // before this one minutes to run on a loaded machine (at 1 minute it had timed out before this
    // test began polling).
    const usr1 = join(s.dir, "jobs/0-case=0/usr1");
    const running = await pollUntil(s, (l) => l.get(0)?.status === "running" && existsSync(usr1), 120);
    expect(running.get(0)?.status).toBe("running");
    // Slurm's --time has a granularity of a minute: bring the end forward instead of waiting for it.
    await run("scontrol", ["update", `JobId=${slurmJobId(s, 0)}`, "EndTime=now+3"]);
    const fresh = createSlurmExecutor({ timeLimit: 300, signalSeconds: 290 });
    await fresh.reattach(s.ctx);
    const again: Study = { ...s, executor: fresh, events: [] };
    const latest = await pollUntil(again, allFinal(1), 60);
    expect(latest.get(0)).toMatchObject({ status: "timeout", attempt: 1, executorId: slurmJobId(s, 0) });
    expect(readFileSync(usr1, "utf8")).toBe("checkpoint");
    expect(recordOf(s, 0)).toMatchObject({ state: "interrupted", signal: 15 });
    expect(readFileSync(join(s.dir, "slurm/chunk-0.sh"), "utf8")).toContain("#SBATCH --signal=B:USR1@290");
  }, 200_000);

  it("reports OUT_OF_MEMORY for a job over --mem", async () => {
    const s = studies.memory!;
    const latest = await pollUntil(s, allFinal(1), 60);
    expect(latest.get(0)).toMatchObject({ status: "out_of_memory", attempt: 1 });
  }, 70_000);

  it("continues a requeued job with --resume from its checkpoint (attempt 2)", async () => {
    const s = studies.requeue!;
    // Deadlines are generous: beside the rest of the suite the node and slurmctld answer slowly.
    const dir = join(s.dir, "jobs/0-case=0");
    await pollUntil(s, () => existsSync(join(dir, "checkpoint")), 120);
    const id = slurmJobId(s, 0);
    await run("scontrol", ["requeue", id]);
    const requeuedAt = Date.now();
    const preempted = await pollUntil(s, (l) => l.get(0)?.status === "preempted", 120);
    expect(preempted.get(0)).toMatchObject({ status: "preempted", attempt: 1 });
    // A requeued job waits ~2 minutes (BeginTime): move its start to now until it runs again. Not in
    // the requeue's first seconds: slurmd refuses to launch a job whose credential it revoked within
    // the same second ("Killing non-startable batch JobId=...: Job credential revoked" in
    // slurmctld.log), and Slurm then ends the job FAILED 1:0 for good (seen in a fresh-clone run).
    await pollUntil(
      s,
      (l) => {
        if (l.get(0)?.attempt === 2) return true;
        if (Date.now() - requeuedAt > 3000) {
          execFile("scontrol", ["update", `JobId=${id}`, "StartTime=now"], () => {});
        }
        return false;
      },
      120,
    );
    const latest = await pollUntil(s, allFinal(1), 120);
    expect(latest.get(0)).toMatchObject({ status: "succeeded", attempt: 2, executorId: id });
    expect(readFileSync(join(dir, "result"), "utf8")).toBe("resumed from step 41 in attempt 2");
    expect(recordOf(s, 0)).toMatchObject({ state: "exited", exitCode: 0, attempt: 2, restartCount: 1 });
    expect(readFileSync(join(s.dir, "slurm/records/0/job.err"), "utf8")).toContain(
      "continuing with --resume",
    );
    // Once requeued, the job is never reported as a fresh pending job again.
    const statuses = s.events.map((e) => e.status);
    const afterRequeue = statuses.slice(statuses.indexOf("preempted"));
    expect(afterRequeue.filter((status) => !["preempted", "running", "succeeded"].includes(status))).toEqual(
      [],
    );
    expect(afterRequeue.at(-1)).toBe("succeeded");
    const rerun = s.events.slice(statuses.indexOf("preempted")).filter((e) => e.status === "running");
    expect(rerun.every((e) => e.attempt === 2)).toBe(true);
  }, 300_000);

  it("cancels a running and a pending job with scancel", async () => {
    const s = studies.cancel!;
    await pollUntil(s, (l) => l.get(0)?.status === "running" && l.get(1)?.status === "pending", 60);
    await s.executor.cancel([0, 1], s.ctx);
    const latest = await pollUntil(s, allFinal(2), 60);
    expect([latest.get(0)?.status, latest.get(1)?.status]).toEqual(["cancelled", "cancelled"]);
  }, 70_000);

  it("falls back to squeue and completion records without accounting, and says so once", async () => {
    const s = studies["no-accounting"]!;
    const latest = await pollUntil(s, allFinal(2), 60);
    expect([latest.get(0)?.status, latest.get(1)?.status]).toEqual(["succeeded", "failed"]);
    expect(latest.get(1)?.exitCode).toBe(3);
    expect(s.stderr.filter((line) => line.includes("no accounting"))).toHaveLength(1);
  }, 70_000);

  it("retries a transient sbatch error with backoff", async () => {
    const s = studies.flaky!;
    expect(s.stderr.join("")).toContain("Socket timed out on send/recv operation");
    expect(s.stderr.join("")).toContain("trying again in");
    const latest = await pollUntil(s, allFinal(1), 60);
    expect(latest.get(0)?.status).toBe("succeeded");
  }, 70_000);

  it("stops at a fatal sbatch error before any later chunk, with Slurm's message", async () => {
    const dir = join(base, "fatal");
    const executor = createSlurmExecutor({ partition: "no-such-partition" });
    const { ctx } = context(dir, 2);
    const error = await executor
      .submit(
        [0, 1, 2, 3, 4, 5].map((i) => job(dir, i, "0")),
        ctx,
      )
      .catch((e: unknown) => e);
    expect(isSlurmError(error, "SLURM_SUBMIT_REJECTED")).toBe(true);
    expect((error as Error).message).toContain("invalid partition specified");
    expect((error as Error).message).toContain("6 job(s) were not submitted");
    expect(executor.chunks()).toEqual([]);
    expect((await readdir(join(dir, "slurm"))).filter((f) => f.endsWith(".json"))).toEqual([]);
  }, 30_000);
});

if (problem !== undefined) {
  describe("createSlurmExecutor on a real Slurm 22.05", () => {
    it.skip(`skipped: no Slurm cluster here (${problem})`, () => {});
  });
}
