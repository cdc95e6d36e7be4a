// The Slurm executor's poll loop over replayed cluster answers: `sacct` and `squeue` are small real
// programs that print what the test last wrote for them, and the jobs' completion records are the
// files the batch script would write. The sequences are the ones a real cluster showed while a job
// was requeued (tests/slurm-cluster.test.ts needs a cluster; this runs everywhere).
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type CompletionRecord, createSlurmExecutor, type SlurmChunk } from "../src/slurm/index.ts";
import type { ExecutorContext, JobEvent } from "../src/types.ts";

const ARRAY = "100";

interface Scene {
  readonly squeue?: string;
  readonly sacct?: string;
  /** The record of job 0, or null to remove it. */
  readonly record?: Partial<CompletionRecord> | null;
}

function fakeCluster(jobs: number) {
  const dir = mkdtempSync(join(tmpdir(), "trainkit-slurm-replay-"));
  const studyDir = join(dir, "study");
  const slurm = join(studyDir, "slurm");
  const answers = join(dir, "answers");
  mkdirSync(answers, { recursive: true });
  const program = (name: string) => {
    const path = join(dir, `fake-${name}`);
    writeFileSync(path, `#!/bin/sh\ncat "${join(answers, `${name}.txt`)}"\n`);
    chmodSync(path, 0o755);
    return path;
  };
  const commands = { sacct: program("sacct"), squeue: program("squeue") };
  mkdirSync(slurm, { recursive: true });
  const table = join(slurm, "chunk-0.tsv");
  const lines = Array.from({ length: jobs }, (_, i) => `${i}\t0\t${join(studyDir, "jobs", String(i))}\n`);
  writeFileSync(table, lines.join(""));
  const chunk: SlurmChunk = {
    version: 1,
    chunk: 0,
    arrayJobId: ARRAY,
    cluster: null,
    jobName: "trainkit-replay",
    size: jobs,
    script: join(slurm, "chunk-0.sh"),
    table,
    submittedAt: new Date(Date.now() - 60_000).toISOString(),
  };
  writeFileSync(join(slurm, "chunk-0.json"), JSON.stringify(chunk));
  const stderr: string[] = [];
  const ctx: ExecutorContext = {
    studyDir,
    maxWorkers: 2,
    jobTimeout: null,
    env: { PATH: process.env.PATH },
    io: { stdout: () => {}, stderr: (text) => stderr.push(text) },
  };
  const executor = createSlurmExecutor({}, { commands });
  let record: CompletionRecord | undefined;

  /** Writes what the cluster says now, then polls once. */
  async function poll(scene: Scene): Promise<readonly Pick<JobEvent, "index" | "status" | "attempt">[]> {
    writeFileSync(join(answers, "squeue.txt"), scene.squeue ?? "");
    writeFileSync(join(answers, "sacct.txt"), scene.sacct ?? "");
    if (scene.record !== undefined) {
      record =
        scene.record === null
          ? undefined
          : {
              version: 1,
              state: "running",
              exitCode: null,
              signal: null,
              step: null,
              index: 0,
              attempt: 1,
              restartCount: 0,
              jobId: "101",
              arrayJobId: ARRAY,
              arrayTaskId: "0",
              host: "node1",
              startedAt: new Date().toISOString(),
              endedAt: null,
              ...scene.record,
            };
      const recordDir = join(slurm, "records", "0");
      mkdirSync(recordDir, { recursive: true });
      writeFileSync(join(recordDir, "status.json"), record === undefined ? "" : JSON.stringify(record));
    }
    const events = await executor.poll(ctx);
    return events.map(({ index, status, attempt }) => ({ index, status, attempt }));
  }
  /** Makes `sacct` exit 1 with an error, as it does while slurmdbd restarts (until the next call). */
  const failSacct = (message: string) =>
    writeFileSync(commands.sacct, `#!/bin/sh\necho '${message}' >&2\nexit 1\n`);
  const restoreSacct = () => program("sacct");
  /** Replaces the fake `sacct` with this shell script (the answers folder is `$ANSWERS`). */
  const sacctScript = (body: string) =>
    writeFileSync(commands.sacct, `#!/bin/sh\nANSWERS='${answers}'\n${body}`);
  /** Polls once per scene, in order: the events of each poll. */
  const replay = async (scenes: readonly Scene[]) => {
    const seen: (readonly unknown[])[] = [];
    for (const scene of scenes) seen.push(await poll(scene));
    return seen;
  };
  return { executor, ctx, poll, replay, stderr, failSacct, restoreSacct, sacctScript, answers };
}

const row = (state: string, exit = "0:0", end = "Unknown") =>
  `101|${ARRAY}_0|${state}|${exit}|0:0|None|2026-01-01T10:00:00|${end}|node1\n`;
const ended = new Date(Date.now() - 30_000).toISOString().slice(0, 19);
/** The first attempt runs and has written its record. */
const RUNNING_1: Scene = {
  squeue: `${ARRAY}_0|RUNNING|None\n`,
  sacct: row("RUNNING"),
  record: { attempt: 1 },
};

/** Requeued after attempt 1: pending again, its record says interrupted by SIGTERM at `endedAt`. */
const preempted1 = (endedAt: string): Scene => ({
  squeue: `${ARRAY}_0|PENDING|BeginTime\n`,
  sacct: row("PENDING"),
  record: { state: "interrupted", exitCode: 143, signal: 15, endedAt },
});

describe("createSlurmExecutor poll", () => {
  it("reports a requeued job's attempts in order: running 1, preempted 1, running 2, succeeded 2", async () => {
    const cluster = fakeCluster(1);
    await cluster.executor.reattach?.(cluster.ctx);
    const scenes: Scene[] = [];
    // Queued, never started: a collapsed pending range.
    scenes.push({
      squeue: `${ARRAY}_0|PENDING|None\n`,
      sacct: `${ARRAY}|${ARRAY}_[0]|PENDING|0:0|0:0|None|Unknown|Unknown|None assigned\n`,
    });
    // The first attempt runs and writes its record.
    scenes.push(RUNNING_1);
    // Preempted with requeue: pending again, its record says interrupted by SIGTERM.
    scenes.push({
      squeue: `${ARRAY}_0|PENDING|BeginTime\n`,
      sacct: row("PENDING"),
      record: { state: "interrupted", exitCode: 143, signal: 15, endedAt: new Date().toISOString() },
    });
    // squeue shows the completing flag while the interrupted attempt is still ending: still preempted.
    scenes.push({ squeue: `${ARRAY}_0|COMPLETING|None\n`, sacct: row("PENDING") });
    // Running again, before the second attempt replaced the record (a stale `running` of attempt 1 on
    // a slow shared file system): the second attempt, never the first again.
    scenes.push(RUNNING_1);
    // The second attempt's own record: nothing new to say.
    scenes.push({
      squeue: `${ARRAY}_0|RUNNING|None\n`,
      sacct: row("RUNNING"),
      record: { attempt: 2, restartCount: 1 },
    });
    // Done: gone from squeue, COMPLETED in sacct, the record says exit 0.
    scenes.push({
      sacct: row("COMPLETED", "0:0", ended),
      record: {
        attempt: 2,
        restartCount: 1,
        state: "exited",
        exitCode: 0,
        endedAt: new Date().toISOString(),
      },
    });
    expect(await cluster.replay(scenes)).toEqual([
      [{ index: 0, status: "pending", attempt: 1 }],
      [{ index: 0, status: "running", attempt: 1 }],
      [{ index: 0, status: "preempted", attempt: 1 }],
      [],
      [{ index: 0, status: "running", attempt: 2 }],
      [],
      [{ index: 0, status: "succeeded", attempt: 2 }],
    ]);
    // A final job is not asked about again.
    expect(await cluster.poll({ sacct: row("COMPLETED", "0:0", ended) })).toEqual([]);
    expect(cluster.stderr).toEqual([]);
  });

  it("never counts a job's own ending (COMPLETING after its record was written) as another attempt", async () => {
    const cluster = fakeCluster(1);
    await cluster.executor.reattach?.(cluster.ctx);
    const ended = new Date().toISOString();
    const scenes: Scene[] = [];
    scenes.push(RUNNING_1);
    // `scontrol requeue`: the script traps SIGTERM and writes `interrupted` while Slurm still shows
    // the job COMPLETING; then it is pending again, then it runs as attempt 2.
    scenes.push({
      squeue: `${ARRAY}_0|COMPLETING|None\n`,
      sacct: row("RUNNING"),
      record: { state: "interrupted", exitCode: 143, signal: 15, endedAt: ended },
    });
    scenes.push({ squeue: `${ARRAY}_0|PENDING|BeginTime\n`, sacct: row("PENDING") });
    scenes.push({ squeue: `${ARRAY}_0|RUNNING|None\n`, sacct: row("RUNNING") });
    // Attempt 2 ends normally: COMPLETING with its `exited` record, then COMPLETED.
    const done = { attempt: 2, restartCount: 1, state: "exited", exitCode: 0, endedAt: ended } as const;
    scenes.push({ squeue: `${ARRAY}_0|COMPLETING|None\n`, sacct: row("COMPLETING"), record: done });
    scenes.push({ sacct: row("COMPLETED", "0:0", ended.slice(0, 19)) });
    expect(await cluster.replay(scenes)).toEqual([
      [{ index: 0, status: "running", attempt: 1 }],
      [],
      [{ index: 0, status: "preempted", attempt: 1 }],
      [{ index: 0, status: "running", attempt: 2 }],
      [],
      [{ index: 0, status: "succeeded", attempt: 2 }],
    ]);
  });

  it("does not count a short attempt that ended between the squeue and the record read as another", async () => {
    const cluster = fakeCluster(1);
    await cluster.executor.reattach?.(cluster.ctx);
    const now = new Date().toISOString();
    const second = { attempt: 2, restartCount: 1, state: "exited", exitCode: 0, endedAt: now } as const;
    expect(
      await cluster.replay([
        RUNNING_1,
        preempted1(now),
        // Attempt 2 ran 0.2 s (seen in a fresh-clone cluster test): squeue still said RUNNING when
        // read, its record was already `exited` when read just after.
        { squeue: `${ARRAY}_0|RUNNING|None\n`, sacct: row("RUNNING"), record: second },
        { sacct: row("COMPLETED", "0:0", ended) },
      ]),
    ).toEqual([
      [{ index: 0, status: "running", attempt: 1 }],
      [{ index: 0, status: "preempted", attempt: 1 }],
      [{ index: 0, status: "running", attempt: 2 }],
      [{ index: 0, status: "succeeded", attempt: 2 }],
    ]);
  });

  it("ignores a stale preemption of an earlier attempt once the next one was reported", async () => {
    const cluster = fakeCluster(1);
    await cluster.executor.reattach?.(cluster.ctx);
    const interrupted = {
      state: "interrupted",
      exitCode: 143,
      signal: 15,
      endedAt: new Date().toISOString(),
    } as const;
    const scenes: Scene[] = [];
    scenes.push(RUNNING_1);
    scenes.push({
      squeue: `${ARRAY}_0|PENDING|BeginTime\n`,
      sacct: row("PENDING"),
      record: interrupted,
    });
    scenes.push({ squeue: `${ARRAY}_0|RUNNING|None\n`, sacct: row("RUNNING") });
    // squeue and sacct still say pending for a poll while attempt 1's record is read again.
    scenes.push({ squeue: `${ARRAY}_0|PENDING|None\n`, sacct: row("REQUEUED") });
    scenes.push({ squeue: `${ARRAY}_0|RUNNING|None\n`, sacct: row("RUNNING") });
    expect(await cluster.replay(scenes)).toEqual([
      [{ index: 0, status: "running", attempt: 1 }],
      [{ index: 0, status: "preempted", attempt: 1 }],
      [{ index: 0, status: "running", attempt: 2 }],
      [],
      [],
    ]);
  });

  it("never reads a next attempt's fresh record under a stale pending state as another preemption", async () => {
    const cluster = fakeCluster(1);
    await cluster.executor.reattach?.(cluster.ctx);
    const now = new Date().toISOString();
    const second = { attempt: 2, restartCount: 1 } as const;
    expect(
      await cluster.replay([
        RUNNING_1,
        preempted1(now),
        // squeue read just before attempt 2 started, its record just after.
        { squeue: `${ARRAY}_0|PENDING|None\n`, sacct: row("PENDING"), record: second },
        { squeue: `${ARRAY}_0|RUNNING|None\n`, sacct: row("RUNNING") },
        {
          sacct: row("COMPLETED", "0:0", ended),
          record: { ...second, state: "exited", exitCode: 0, endedAt: now },
        },
      ]),
    ).toEqual([
      [{ index: 0, status: "running", attempt: 1 }],
      [{ index: 0, status: "preempted", attempt: 1 }],
      [],
      [{ index: 0, status: "running", attempt: 2 }],
      [{ index: 0, status: "succeeded", attempt: 2 }],
    ]);
  });

  it("reads only its own job's accounting row when the job id was used before", async () => {
    // slurmdbd keeps an earlier job 100 (a controller whose state was reset reuses ids). Like the
    // real sacct (measured on 22.05): -j alone answers with the newest row the database has for the
    // id, which is the earlier job's until this one's arrives; --name filters as well.
    const cluster = fakeCluster(1);
    await cluster.executor.reattach?.(cluster.ctx);
    cluster.sacctScript(`name=""
for a in "$@"; do case "$a" in --name=*) name="\${a#--name=}";; esac; done
if [ -n "$name" ]; then grep "^$name|" "$ANSWERS/db.txt" | cut -d'|' -f2-
else tail -n 1 "$ANSWERS/db.txt" | cut -d'|' -f2-; fi
`);
    const db = (rows: string) => writeFileSync(join(cluster.answers, "db.txt"), rows);
    db(`tk-earlier|${row("CANCELLED by 0")}`);
    const done = { state: "exited" as const, exitCode: 0, endedAt: new Date().toISOString() };
    // The job has left the queue and says it succeeded; slurmdbd has not got its row yet: not
    // known yet (the earlier job's row would make it suspect, a success that sacct calls cancelled).
    expect(await cluster.poll({ squeue: "", record: done })).toEqual([
      { index: 0, status: "pending", attempt: 1 },
    ]);
    db(`tk-earlier|${row("CANCELLED by 0")}trainkit-replay|${row("COMPLETED", "0:0", ended)}`);
    expect(await cluster.poll({ squeue: "" })).toEqual([{ index: 0, status: "succeeded", attempt: 1 }]);
  });

  it("keeps what it reported when sacct fails for a poll, and says so", async () => {
    const cluster = fakeCluster(2);
    await cluster.executor.reattach?.(cluster.ctx);
    const running = `${ARRAY}_0|RUNNING|None\n${ARRAY}_1|RUNNING|None\n`;
    const both = `${row("RUNNING")}102|${ARRAY}_1|RUNNING|0:0|0:0|None|2026-01-01T10:00:00|Unknown|node1\n`;
    expect(await cluster.poll({ squeue: running, sacct: both, record: { attempt: 1 } })).toEqual([
      { index: 0, status: "running", attempt: 1 },
      { index: 1, status: "running", attempt: 1 },
    ]);
    // An sacct that exits 1 (slurmdbd restarting): no events, a note, and the next poll goes on.
    cluster.failSacct("sacct: error: slurmdbd: Connection refused");
    expect(await cluster.poll({ squeue: "" })).toEqual([]);
    expect(cluster.stderr.join("")).toContain("sacct failed (sacct: error: slurmdbd: Connection refused)");
    // sacct answers again: job 1 failed with exit 3 (its script wrote no record), job 0 still runs.
    cluster.restoreSacct();
    expect(
      await cluster.poll({
        squeue: `${ARRAY}_0|RUNNING|None\n`,
        sacct: `${row("RUNNING")}102|${ARRAY}_1|FAILED|3:0|0:0|None|2026-01-01T10:00:00|${ended}|node1\n`,
      }),
    ).toEqual([{ index: 1, status: "failed", attempt: 1 }]);
  });
});
