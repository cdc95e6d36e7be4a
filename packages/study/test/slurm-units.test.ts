// The Slurm executor's pure pieces, and its batch script run by bash with the variables Slurm would
// set (so that the script's signal and exit-code handling is tested on machines without Slurm too).
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  type ChunkPlan,
  type CompletionRecord,
  createBackoff,
  expandArrayRange,
  isSlurmError,
  isTransientSlurmError,
  judgeJob,
  type Observation,
  parseCompletionRecord,
  parseJobId,
  parseMaxArraySize,
  parseSacct,
  parseSbatchOutput,
  parseSlurmSettings,
  parseSqueue,
  renderArgvFile,
  renderBatchScript,
  SlurmSettingsSchema,
  sbatchOptions,
  shellQuote,
  slurmJobName,
  slurmMinutes,
} from "../src/slurm/index.ts";
import { tableLine } from "../src/slurm/script.ts";

describe("parseJobId", () => {
  it("reads plain, task and collapsed pending array ids", () => {
    expect(parseJobId("123")).toEqual({ jobId: "123", tasks: null, collapsed: false });
    expect(parseJobId("123_4")).toEqual({ jobId: "123", tasks: [4], collapsed: false });
    expect(parseJobId("123_[0-3%2]")).toEqual({ jobId: "123", tasks: [0, 1, 2, 3], collapsed: true });
    expect(parseJobId("29_[1-5%1]")?.tasks).toEqual([1, 2, 3, 4, 5]);
    expect(parseJobId("144_[0-99]")?.tasks).toHaveLength(100);
    expect(parseJobId("7_[1,3-7:2]")?.tasks).toEqual([1, 3, 5, 7]);
    expect(parseJobId("123_4.batch")).toEqual({ jobId: "123", tasks: [4], collapsed: false });
    expect(parseJobId("JobID")).toBeUndefined();
    expect(parseJobId("12_[3-1]")).toBeUndefined();
  });

  it("expands ranges with throttles and steps", () => {
    expect(expandArrayRange("0-2,5")).toEqual([0, 1, 2, 5]);
    expect(expandArrayRange("0-15:4%2")).toEqual([0, 4, 8, 12]);
    expect(expandArrayRange("a-b")).toBeUndefined();
  });
});

describe("parseSbatchOutput", () => {
  it("reads `jobid` and `jobid;cluster`, ignoring warnings before it", () => {
    expect(parseSbatchOutput("42\n")).toEqual({ jobId: "42", cluster: null });
    expect(parseSbatchOutput("sbatch: warning: x\n42;alpha\n")).toEqual({ jobId: "42", cluster: "alpha" });
    expect(parseSbatchOutput("Submitted batch job 2\n")).toBeUndefined();
    expect(parseSbatchOutput("")).toBeUndefined();
  });
});

describe("parseMaxArraySize", () => {
  it("reads MaxArraySize from `scontrol show config`", () => {
    const config =
      "MailProg                = /bin/mail\nMaxArraySize            = 1001\nMaxJobCount             = 10000\n";
    expect(parseMaxArraySize(config)).toBe(1001);
    expect(parseMaxArraySize("MaxJobCount = 5")).toBeUndefined();
  });
});

describe("parseSacct", () => {
  it("reads job rows, suffixed states and collapsed pending ranges", () => {
    const rows = parseSacct(
      [
        "3|1_0|COMPLETED|0:0|0:0|None|2026-01-01T10:00:00|2026-01-01T10:00:05|node1",
        "4|1_1|CANCELLED by 0|0:0|0:0|None|2026-01-01T10:00:00|2026-01-01T10:00:02|node1",
        "1|1_[2-3%2]|PENDING|0:0|0:0|JobArrayTaskLimit|Unknown|Unknown|None assigned",
        "bad line",
      ].join("\n"),
    );
    expect(rows).toHaveLength(3);
    expect(rows[1]).toMatchObject({
      state: "CANCELLED",
      stateText: "CANCELLED by 0",
      exit: { code: 0, signal: 0 },
    });
    expect(rows[2]).toMatchObject({
      id: { jobId: "1", tasks: [2, 3], collapsed: true },
      start: null,
      end: null,
    });
    expect(rows[0]).toMatchObject({ jobIdRaw: "3", end: "2026-01-01T10:00:05", nodeList: "node1" });
  });
});

describe("parseSqueue", () => {
  it("reads `%i|%T|%r` rows", () => {
    expect(parseSqueue("7_0|PENDING|BeginTime\n7_1|RUNNING|None\n")).toEqual([
      { id: { jobId: "7", tasks: [0], collapsed: false }, state: "PENDING", reason: "BeginTime" },
      { id: { jobId: "7", tasks: [1], collapsed: false }, state: "RUNNING", reason: "None" },
    ]);
  });
});

describe("isTransientSlurmError", () => {
  it("retries controller hiccups and not policy or spelling errors", () => {
    expect(
      isTransientSlurmError(
        "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation",
      ),
    ).toBe(true);
    expect(
      isTransientSlurmError("sbatch: error: Slurm temporarily unable to accept job, sleeping and retrying"),
    ).toBe(true);
    expect(isTransientSlurmError("Resource temporarily unavailable")).toBe(true);
    expect(
      isTransientSlurmError("sbatch: error: Batch job submission failed: Invalid job array specification"),
    ).toBe(false);
    expect(isTransientSlurmError("sbatch: error: invalid partition specified: gpu")).toBe(false);
    expect(
      isTransientSlurmError(
        "Job violates accounting/QOS policy (job submit limit, user's size and/or time limits)",
      ),
    ).toBe(false);
  });
});

describe("createBackoff", () => {
  it("doubles from 2 s to 60 s, with jitter within 20 %, and resets", () => {
    const middle = createBackoff({ random: () => 0.5 });
    expect(Array.from({ length: 8 }, () => middle.next())).toEqual([
      2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000,
    ]);
    middle.reset();
    expect(middle.next()).toBe(2000);
    const low = createBackoff({ random: () => 0 });
    const high = createBackoff({ random: () => 0.999999 });
    expect(low.next()).toBe(1600);
    expect(high.next()).toBe(2400);
  });
});

const record = (over: Partial<CompletionRecord> = {}): CompletionRecord => ({
  version: 1,
  state: "exited",
  exitCode: 0,
  signal: null,
  step: null,
  index: 0,
  attempt: 1,
  restartCount: 0,
  jobId: "3",
  arrayJobId: "1",
  arrayTaskId: "0",
  host: "node1",
  startedAt: "2026-01-01T10:00:00.000Z",
  endedAt: "2026-01-01T10:00:05.000Z",
  ...over,
});
const sacct = (state: string, exit = "0:0", derived = "0:0") =>
  parseSacct(`3|1_0|${state}|${exit}|${derived}|None|2026-01-01T10:00:00|2026-01-01T10:00:05|node1`)[0]!;
const observe = (over: Partial<Observation>): Observation => ({
  accounting: true,
  attemptBase: 0,
  secondsSinceSubmit: 10,
  secondsSinceEnd: 5,
  ...over,
});

describe("judgeJob", () => {
  it("maps sacct's states and the record to the study's statuses", () => {
    const cases: [Partial<Observation>, string, number | null][] = [
      [{ sacct: sacct("COMPLETED"), record: record() }, "succeeded", 0],
      [{ sacct: sacct("FAILED", "3:0"), record: record({ exitCode: 3, step: 0 }) }, "failed", 3],
      [
        {
          sacct: sacct("FAILED", "0:9"),
          record: record({ state: "running", exitCode: null, endedAt: null }),
        },
        "failed",
        137,
      ],
      [
        { sacct: sacct("TIMEOUT"), record: record({ state: "interrupted", exitCode: 143, signal: 15 }) },
        "timeout",
        143,
      ],
      [
        { sacct: sacct("OUT_OF_MEMORY", "0:125"), record: record({ exitCode: 137, signal: 9 }) },
        "out_of_memory",
        137,
      ],
      [{ sacct: sacct("NODE_FAIL") }, "node_fail", 0],
      [{ sacct: sacct("CANCELLED by 0") }, "cancelled", 0],
      [{ sacct: sacct("PREEMPTED", "0:15") }, "interrupted", 143],
      [{ sacct: sacct("RUNNING") }, "running", null],
      [{ squeue: parseSqueue("1_0|PENDING|Priority")[0]! }, "pending", null],
    ];
    for (const [over, status, exitCode] of cases) {
      expect({
        state: over.sacct?.stateText ?? over.squeue?.state,
        ...judgeJob(observe(over)),
      }).toMatchObject({
        status,
        exitCode,
      });
    }
  });

  it("never calls a job succeeded when the sources disagree: suspect", () => {
    const suspects: Partial<Observation>[] = [
      { sacct: sacct("OUT_OF_MEMORY", "0:125"), record: record() }, // a child was OOM-killed, the script said 0
      { sacct: sacct("COMPLETED", "0:0", "4:0"), record: record() }, // a job step failed
      { sacct: sacct("COMPLETED"), record: record({ exitCode: 2 }) },
      { sacct: sacct("FAILED", "1:0"), record: record() },
      { sacct: sacct("TIMEOUT"), record: record() },
      { sacct: sacct("COMPLETED"), secondsSinceEnd: 120 }, // no record long after the end
    ];
    for (const over of suspects) expect(judgeJob(observe(over))?.status).toBe("suspect");
  });

  it("treats empty answers and a late record as not yet", () => {
    expect(judgeJob(observe({}))).toBeNull(); // right after submit: sacct has no row yet
    expect(judgeJob(observe({ sacct: sacct("COMPLETED"), secondsSinceEnd: 3 }))).toBeNull(); // record on its way
    expect(judgeJob(observe({ secondsSinceSubmit: 400 }))).toMatchObject({ status: "failed" });
  });

  it("reports a requeued job as preempted (not final) with the attempt that ended", () => {
    const verdict = judgeJob(
      observe({
        squeue: parseSqueue("1_0|PENDING|BeginTime")[0]!,
        sacct: sacct("PENDING"),
        record: record({ state: "interrupted", exitCode: 143, signal: 15 }),
      }),
    );
    expect(verdict).toMatchObject({ status: "preempted", attempt: 1 });
    expect(verdict?.message).toContain("requeued");
  });

  it("counts a COMPLETING job as the attempt its record names: that attempt is ending", () => {
    for (const state of ["exited", "interrupted"] as const) {
      expect(
        judgeJob(
          observe({
            squeue: parseSqueue("1_0|COMPLETING|None")[0]!,
            record: record({ state, exitCode: state === "exited" ? 0 : 143 }),
          }),
        ),
      ).toMatchObject({ status: "running", attempt: 1 });
    }
  });

  it("counts a RUNNING row beside an exited record as that record's attempt (it ended between the reads)", () => {
    for (const attempt of [1, 2]) {
      expect(
        judgeJob(
          observe({
            squeue: parseSqueue("1_0|RUNNING|None")[0]!,
            record: record({ attempt, restartCount: attempt - 1 }),
          }),
        ),
      ).toMatchObject({ status: "running", attempt });
    }
  });

  it("counts a running requeued job as the next attempt before it wrote its own record", () => {
    const verdict = judgeJob(
      observe({
        squeue: parseSqueue("1_0|RUNNING|None")[0]!,
        record: record({ state: "interrupted", exitCode: 143, signal: 15 }),
      }),
    );
    expect(verdict).toMatchObject({ status: "running", attempt: 2 });
    expect(
      judgeJob(
        observe({
          squeue: parseSqueue("1_0|RUNNING|None")[0]!,
          record: record({ state: "running", attempt: 2 }),
        }),
      ),
    ).toMatchObject({ attempt: 2 });
  });

  it("without accounting trusts the record once squeue has forgotten the job", () => {
    const off = { accounting: false } as const;
    expect(judgeJob(observe({ ...off, record: record() }))?.status).toBe("succeeded");
    expect(judgeJob(observe({ ...off, record: record({ exitCode: 3 }) }))).toMatchObject({
      status: "failed",
      exitCode: 3,
    });
    expect(
      judgeJob(observe({ ...off, record: record({ state: "interrupted", exitCode: 143, signal: 15 }) }))
        ?.status,
    ).toBe("interrupted");
    expect(judgeJob(observe({ ...off }))).toBeNull();
    expect(judgeJob(observe({ ...off, secondsSinceSubmit: 90 }))?.status).toBe("failed");
  });
});

describe("parseCompletionRecord", () => {
  it("accepts the script's record and refuses torn or foreign ones", () => {
    expect(parseCompletionRecord(JSON.stringify(record()))).toEqual(record());
    expect(parseCompletionRecord('{"version":1,"state":"exi')).toBeUndefined();
    expect(parseCompletionRecord(JSON.stringify({ ...record(), state: "done" }))).toBeUndefined();
  });
});

describe("parseSlurmSettings", () => {
  it("fills defaults", () => {
    expect(parseSlurmSettings({})).toEqual({
      partition: null,
      account: null,
      qos: null,
      timeLimit: null,
      cpusPerTask: 1,
      mem: null,
      gres: null,
      extra: [],
      signalSeconds: 60,
      requeue: true,
      maxArraySize: null,
    });
  });

  it("names the field, the value and the origin, and suggests a spelling", () => {
    const error = (() => {
      try {
        parseSlurmSettings(
          { partiton: "gpu", mem: "lots", extra: ["--constraint=a100", "--array=0-3"] },
          "study.yaml slurm:",
        );
      } catch (e) {
        return e;
      }
    })();
    expect(isSlurmError(error, "SLURM_SETTINGS_INVALID")).toBe(true);
    expect((error as Error).message).toMatchInlineSnapshot(`
      "slurm.mem: a size such as 4000, 500M or 16G, got "lots" (from study.yaml slurm:).
      slurm.partiton: unknown setting; did you mean slurm.partition? (from study.yaml slurm:).
      slurm.extra[1]: "--array=0-3" sets --array, which the executor sets itself (the executor builds the array from the jobs (chunked by MaxArraySize)), got "--array=0-3" (from study.yaml slurm:)."
    `);
  });

  it("has a JSON Schema with descriptions for the spec", () => {
    const schema = SlurmSettingsSchema.toJSONSchema?.({ io: "input" }) as
      | { properties: Record<string, { description?: string }> }
      | undefined;
    const properties = schema?.properties ?? {};
    expect(Object.keys(properties)).toContain("signalSeconds");
    expect(Object.values(properties).every((p) => typeof p.description === "string")).toBe(true);
  });
});

function plan(over: Partial<ChunkPlan> = {}): ChunkPlan {
  return {
    jobName: "tk-0123456789",
    chunk: 0,
    size: 4,
    throttle: 2,
    timeLimitSeconds: 90,
    settings: parseSlurmSettings({
      partition: "debug",
      account: "proj",
      qos: "low",
      mem: "4G",
      gres: "gpu:1",
      cpusPerTask: 4,
      extra: ["--constraint=a100"],
    }),
    tablePath: "/studies/s 1/slurm/chunk-0.tsv",
    argvDir: "/studies/s 1/slurm/argv",
    recordsDir: "/studies/s 1/slurm/records",
    ...over,
  };
}

describe("sbatchOptions", () => {
  it("renders every setting, rounding the time up to minutes", () => {
    expect(sbatchOptions(plan())).toEqual([
      "--job-name=tk-0123456789",
      "--array=0-3%2",
      "--open-mode=append",
      "--requeue",
      "--kill-on-invalid-dep=yes",
      "--cpus-per-task=4",
      "--partition=debug",
      "--account=proj",
      "--qos=low",
      "--time=2",
      "--mem=4G",
      "--gres=gpu:1",
      "--signal=B:USR1@60",
      "--constraint=a100",
    ]);
    expect(
      sbatchOptions(
        plan({
          throttle: null,
          timeLimitSeconds: null,
          settings: parseSlurmSettings({ requeue: false, signalSeconds: null }),
        }),
      ),
    ).toEqual([
      "--job-name=tk-0123456789",
      "--array=0-3",
      "--open-mode=append",
      "--no-requeue",
      "--kill-on-invalid-dep=yes",
      "--cpus-per-task=1",
    ]);
    expect([slurmMinutes(1), slurmMinutes(60), slurmMinutes(61)]).toEqual([1, 1, 2]);
  });
});

describe("slurmJobName", () => {
  it("is the same for a study directory and differs between studies", () => {
    expect(slurmJobName("/a/study")).toBe(slurmJobName("/a/study/"));
    expect(slurmJobName("/a/study")).not.toBe(slurmJobName("/a/other"));
    expect(slurmJobName("/a/study")).toMatch(/^tk-[0-9a-f]{10}$/);
  });
});

describe("renderArgvFile and tableLine", () => {
  it("writes NUL-separated records and refuses what the table cannot carry", () => {
    const text = renderArgvFile({
      index: 0,
      commands: [
        { step: "train", argv: ["a b", "$x"] },
        { step: "infer", argv: ["c"] },
      ],
    });
    expect(text).toBe("train\u00002\u0000a b\u0000$x\u0000infer\u00001\u0000c\u0000");
    expect(tableLine(3, 1, "/s/jobs/3-x")).toBe("3\t1\t/s/jobs/3-x\n");
    expect(() => tableLine(3, 0, "/s/jobs/3\nx")).toThrow(/tab, a newline/);
    expect(() => renderArgvFile({ index: 1, commands: [] })).toThrow(/no command/);
    expect(shellQuote("/plain/path")).toBe("/plain/path");
    expect(shellQuote("it's here")).toBe(`'it'\\''s here'`);
  });
});

// --- the batch script itself, run by bash as slurmstepd would (without Slurm) -----------------------

function prepare(commands: { step: "train" | "infer"; argv: string[] }[], jobDir?: string) {
  const dir = mkdtempSync(join(tmpdir(), "trainkit-slurm-script-"));
  const job = jobDir ?? join(dir, "jobs", "0-case=0");
  mkdirSync(join(dir, "argv"), { recursive: true });
  mkdirSync(job, { recursive: true });
  writeFileSync(join(dir, "argv", "0"), renderArgvFile({ index: 0, commands }));
  writeFileSync(join(dir, "table.tsv"), tableLine(0, 0, job));
  const script = join(dir, "chunk-0.sh");
  writeFileSync(
    script,
    renderBatchScript(
      plan({
        tablePath: join(dir, "table.tsv"),
        argvDir: join(dir, "argv"),
        recordsDir: join(dir, "records"),
      }),
    ),
  );
  return { dir, job, script };
}

function runScript(script: string, env: Record<string, string>, onStart?: (pid: number) => void) {
  return new Promise<number | null>((resolve) => {
    const child = spawn("bash", [script], {
      env: { ...process.env, SLURM_ARRAY_TASK_ID: "0", SLURM_JOB_ID: "55", SLURM_ARRAY_JOB_ID: "54", ...env },
      stdio: "ignore",
    });
    if (onStart) onStart(child.pid!);
    child.on("exit", (code) => resolve(code));
  });
}

const node = process.execPath;
/** The record of job 0 of a `prepare`d study (`<dir>/records/0/status.json`, beside `<dir>/jobs/`). */
const readRecord = (job: string) =>
  JSON.parse(readFileSync(join(job, "..", "..", "records", "0", "status.json"), "utf8"));

async function waitFor(test: () => boolean) {
  for (let i = 0; i < 200 && !test(); i++) await new Promise((r) => setTimeout(r, 25));
}

describe("renderBatchScript", () => {
  it("runs the commands in order and records success", async () => {
    const { job, script } = prepare([
      {
        step: "train",
        argv: [node, "-e", `require("fs").writeFileSync(process.env.TKSTUDY_JOB_DIR + "/t", "1")`],
      },
      {
        step: "infer",
        argv: [node, "-e", `require("fs").appendFileSync(process.env.TKSTUDY_JOB_DIR + "/t", "2")`],
      },
    ]);
    expect(await runScript(script, {})).toBe(0);
    expect(readFileSync(join(job, "t"), "utf8")).toBe("12");
    expect(readRecord(job)).toMatchObject({
      state: "exited",
      exitCode: 0,
      index: 0,
      attempt: 1,
      jobId: "55",
      arrayJobId: "54",
      arrayTaskId: "0",
    });
    expect(readFileSync(script, "utf8").split("\n").slice(0, 3)).toEqual([
      "#!/bin/bash",
      "#SBATCH --job-name=tk-0123456789",
      "#SBATCH --array=0-3%2",
    ]);
  });

  it("exits with the program's code, stops at the failing command and counts restarts as attempts", async () => {
    const { job, script } = prepare([
      { step: "train", argv: [node, "-e", "process.exit(3)"] },
      {
        step: "infer",
        argv: [node, "-e", `require("fs").writeFileSync(process.env.TKSTUDY_JOB_DIR + "/ran", "")`],
      },
    ]);
    expect(await runScript(script, { SLURM_RESTART_COUNT: "2" })).toBe(3);
    expect(existsSync(join(job, "ran"))).toBe(false);
    expect(readRecord(job)).toMatchObject({
      state: "exited",
      exitCode: 3,
      step: 0,
      attempt: 3,
      restartCount: 2,
    });
  });

  it("forwards SIGUSR1 to the program and records SIGTERM as interrupted", async () => {
    const code = `process.on("SIGUSR1", () => require("fs").writeFileSync(process.env.TKSTUDY_JOB_DIR + "/usr1", "")); require("fs").writeFileSync(process.env.TKSTUDY_JOB_DIR + "/up", ""); setTimeout(() => {}, 30000)`;
    const { job, script } = prepare([{ step: "train", argv: [node, "-e", code] }]);
    let pid = 0;
    const done = runScript(script, {}, (p) => {
      pid = p;
    });
    await waitFor(() => existsSync(join(job, "up")));
    process.kill(pid, "SIGUSR1");
    await waitFor(() => existsSync(join(job, "usr1")));
    expect(existsSync(join(job, "usr1"))).toBe(true);
    process.kill(pid, "SIGTERM"); // only the shell: it forwards TERM to the program
    expect(await done).toBe(143);
    expect(readRecord(job)).toMatchObject({ state: "interrupted", signal: 15, exitCode: 143 });
  });

  it("passes --resume to the train command when the run directory has a manifest", async () => {
    const echo = `require("fs").writeFileSync(process.env.TKSTUDY_JOB_DIR + "/argv.json", JSON.stringify(process.argv.slice(1)))`;
    const { job, script } = prepare([{ step: "train", argv: [node, "-e", echo, "--", "x"] }]);
    writeFileSync(join(job, "manifest.json"), "{}");
    expect(await runScript(script, { SLURM_RESTART_COUNT: "1" })).toBe(0);
    expect(JSON.parse(readFileSync(join(job, "argv.json"), "utf8"))).toEqual(["x", "--resume"]);
  });
});
