// `trainkit-train --payload FILE`: runs exactly a payload planned earlier (as a study writes a job's
// payload.json and audit.json), with its SHA-256 verified; every way the file can be wrong is a coded
// error with exit code 2. Real files in temp dirs, through main(argv, io) and once through the bin.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type AnyPayload,
  createTrainingPayload,
  payloadSha256,
  renderPayloadDocument,
  type TrainingPayloadOptions,
} from "@trainkit/factory";
import { main as infer } from "@trainkit/infer-cli";
import { main as trainMain } from "@trainkit/train-cli";
import { describe, expect, it } from "vitest";
import { CPU_PIPE, writeDataset } from "../packages/factory/test/helpers.ts";
import { run, tempDir } from "./helpers.ts";

const dir = tempDir("trainkit-payload-");
const trainFile = await writeDataset(join(dir, "train.npz"), { N: 64, M: 16 });

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function train(argv: readonly string[], env: Record<string, string> = {}): Promise<Result> {
  let stdout = "";
  let stderr = "";
  const code = await trainMain(argv, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env,
    isTTY: false,
  });
  return { code, stdout, stderr };
}

let jobs = 0;
/** Plans a job as a study does: the payload and its audit written into the job's run directory. */
async function plan(
  training: NonNullable<TrainingPayloadOptions["overrides"]>["training"] = {},
  execution: TrainingPayloadOptions["execution"] = {},
  options: { audit?: boolean } = {},
): Promise<{ payload: AnyPayload; jobDir: string; file: string; sha: string; text: string }> {
  const jobDir = join(dir, `job-${jobs++}`);
  const payload = await createTrainingPayload({
    trainDataFile: trainFile,
    outputDir: jobDir,
    overrides: {
      model: { nFiltersScale: 1 },
      training: { nGroups: 16, nepochs: 1, batchSize: 8, ...training },
    },
    execution: { seed: 2, computeThreads: 1, checkpointMonitor: "train_loss", ...execution },
    environment: CPU_PIPE,
  });
  mkdirSync(jobDir, { recursive: true });
  const file = join(jobDir, "payload.json");
  const text = renderPayloadDocument(payload);
  writeFileSync(file, text);
  if (options.audit !== false) {
    writeFileSync(
      join(jobDir, "audit.json"),
      `${JSON.stringify({ audit: payload.audit, warnings: payload.warnings, overridesApplied: payload.overridesApplied }, null, 2)}\n`,
    );
  }
  return { payload, jobDir, file, sha: await payloadSha256(payload), text };
}

const manifestOf = (runDir: string) => JSON.parse(readFileSync(join(runDir, "manifest.json"), "utf8"));
const auditOf = (runDir: string) => JSON.parse(readFileSync(join(runDir, "audit.json"), "utf8"));

describe("trainkit-train --payload", () => {
  it("runs the planned payload in its own directory, verifies its SHA-256, keeps its bytes and audit", async () => {
    const job = await plan();
    const first = await train(["--payload", job.file, "--payload-sha256", job.sha, "--resume"]);
    expect(first.code, first.stderr).toBe(0);
    expect(readFileSync(job.file, "utf8")).toBe(job.text); // rewritten with identical bytes
    const manifest = manifestOf(job.jobDir);
    expect(manifest).toMatchObject({
      status: "succeeded",
      payloadSha256: job.sha,
      details: { computeThreads: 1 },
    });
    expect(manifest.resumedFrom).toBeUndefined();
    // The planner's audit (origins `code` and `inferred`) is the run's audit, not "payload file".
    const audit = auditOf(job.jobDir).audit;
    expect(audit.find((a: { path: string }) => a.path === "training.nepochs")).toMatchObject({
      value: 1,
      level: "override",
      origin: { kind: "code", argument: "overrides" },
    });
    expect(audit.find((a: { path: string }) => a.path === "model.N").origin.kind).toBe("inferred");
    expect(audit).toEqual(job.payload.audit);

    // A retry with --resume continues this payload's run.
    const again = await train(["--payload", job.file, "--resume"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain("resuming from");
    expect(readFileSync(job.file, "utf8")).toBe(job.text);
  }, 60_000);

  it("refuses a wrong SHA-256, and a run directory holding another payload's run", async () => {
    const job = await plan();
    const wrong = await train(["--payload", job.file, "--payload-sha256", "0".repeat(64)]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`has SHA-256 ${job.sha}, not the expected ${"0".repeat(64)}`);
    // Another payload planned into a directory where a run already happened.
    const done = await plan();
    expect((await train(["--payload", done.file])).code).toBe(0);
    // The same job with 2 epochs, planned into the same run directory (no audit.json beside it).
    const other = JSON.parse(done.text);
    other.config.training.nepochs = 2;
    const otherFile = join(dir, "other.json");
    writeFileSync(otherFile, JSON.stringify(other));
    const clash = await train(["--payload", otherFile, "--resume", "--dry-run"]);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toContain("holds a run of another payload");
    expect(clash.stderr).not.toContain("    at ");
  }, 60_000);

  it("names the payload file as the origin when there is no audit.json, and takes masked secrets from env", async () => {
    const job = await plan(
      {},
      { logger: "mlflow", mlflowTrackingUri: "https://user:pw@mlflow" },
      { audit: false },
    );
    expect(readFileSync(job.file, "utf8")).toContain('"mlflowTrackingUri": "***"');
    const missing = await train(["--payload", job.file, "--explain", "training.batchSize"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(
      'masks a secret ("***"): execution.mlflowTrackingUri (set TRAINKIT_EXECUTION_MLFLOW_TRACKING_URI)',
    );
    const env = { TRAINKIT_EXECUTION_MLFLOW_TRACKING_URI: "https://user:pw@mlflow" };
    const explained = await train(["--payload", job.file, "--explain", "--format", "json"], env);
    expect(explained.code, explained.stderr).toBe(0);
    const entries = JSON.parse(explained.stdout) as { path: string; value: unknown; origin: unknown }[];
    expect(entries.find((e) => e.path === "training.batchSize")).toMatchObject({
      value: 8,
      origin: { kind: "payload", file: job.file },
    });
    expect(entries.find((e) => e.path === "execution.mlflowTrackingUri")).toMatchObject({
      value: "***",
      origin: { kind: "env", variable: "TRAINKIT_EXECUTION_MLFLOW_TRACKING_URI" },
    });
    expect(explained.stdout).not.toContain("user:pw");
  });

  it("refuses value flags, config files and TRAINKIT_ settings beside it", async () => {
    const job = await plan();
    for (const extra of [
      ["--batch-size", "16"],
      ["--config", "x.yaml"],
      ["--set", "training.nepochs=3"],
    ]) {
      const result = await train(["--payload", job.file, ...extra]);
      expect(result.code, extra.join(" ")).toBe(2);
      expect(result.stderr).toContain("--payload runs a resolved payload as it is");
    }
    const env = await train(["--payload", job.file, "--dry-run"], { TRAINKIT_TRAINING_BATCH_SIZE: "16" });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain("unset TRAINKIT_TRAINING_BATCH_SIZE");
    const sha = await train(["--payload-sha256", job.sha, "--dry-run"]);
    expect(sha.code).toBe(2);
    expect(sha.stderr).toContain("--payload-sha256 checks the file of --payload");
    // Launcher flags, --dry-run and a thread budget are fine.
    const dry = await train(["--payload", job.file, "--dry-run", "--backend", "embedded"], {
      TRAINKIT_THREAD_BUDGET: "1",
    });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`(SHA-256 ${job.sha}) is valid`);
    const auto = await plan({}, { computeThreads: "auto" });
    const budget = await train(["--payload", auto.file, "--dry-run"], { TRAINKIT_THREAD_BUDGET: "zero" });
    expect(budget.code).toBe(2);
    expect(budget.stderr).toContain("TRAINKIT_THREAD_BUDGET: must be a positive integer");
  });

  it("gives a coded error for a missing, malformed, foreign, incomplete or invalid payload file", async () => {
    const job = await plan();
    const document = JSON.parse(job.text);
    const write = (name: string, text: string) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    };
    const cases: [string, string, string][] = [
      ["missing", join(dir, "nowhere.json"), `Payload file ${join(dir, "nowhere.json")} does not exist.`],
      ["not JSON", write("bad.json", "{ kind: training"), "is not valid JSON"],
      ["no config", write("noconfig.json", '{"kind": "training"}'), 'has no "config" object'],
      [
        "incomplete",
        write(
          "partial.json",
          JSON.stringify({ kind: "training", config: { ...document.config, model: { N: 64 } } }),
        ),
        "is not a complete resolved payload: it lacks model.gridsize",
      ],
      [
        "a foreign section",
        write(
          "foreign.json",
          JSON.stringify({ kind: "training", config: { ...document.config, inference: {} } }),
        ),
        'has a "inference" section, which a training payload does not have',
      ],
      [
        "a value the schema refuses",
        write(
          "batch.json",
          JSON.stringify({
            kind: "training",
            config: { ...document.config, training: { ...document.config.training, batchSize: 12 } },
          }),
        ),
        "training.batchSize: must be a power of two (1, 2, 4, 8, ...), got 12 (from payload file",
      ],
      [
        "a cross-field rule",
        write(
          "fold.json",
          JSON.stringify({
            kind: "training",
            config: { ...document.config, training: { ...document.config.training, foldIndex: 1 } },
          }),
        ),
        "training.foldIndex: needs foldCount",
      ],
    ];
    for (const [what, file, message] of cases) {
      const result = await train(["--payload", file, "--dry-run"]);
      expect(result.code, what).toBe(2);
      expect(result.stderr, what).toContain(message);
      expect(result.stderr, what).not.toContain("internal error");
    }
    // The other program: a training payload is not an inference one.
    let stderr = "";
    const code = await infer(["--payload", job.file, "--dry-run"], {
      stdout: () => {},
      stderr: (t) => (stderr += t),
      env: {},
      isTTY: false,
    });
    expect(code).toBe(2);
    expect(stderr).toContain('holds an "training" payload');
    expect(stderr).toContain("Run it with trainkit-train.");
  });

  it("refuses an audit.json that does not describe the payload", async () => {
    const job = await plan();
    const auditFile = join(job.jobDir, "audit.json");
    const audit = JSON.parse(readFileSync(auditFile, "utf8"));
    audit.audit.find((a: { path: string }) => a.path === "training.nepochs").value = 7;
    writeFileSync(auditFile, JSON.stringify(audit));
    const result = await train(["--payload", job.file, "--dry-run"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`Audit file ${auditFile} does not describe the payload ${job.file}:`);
    expect(result.stderr).toContain("training.nepochs is 7 there but 1 in the payload");
    rmSync(auditFile);
    expect((await train(["--payload", job.file, "--dry-run"])).code).toBe(0);
  });
});

describe("the installed trainkit-train with --payload and compute threads", () => {
  it("runs a planned payload; computeThreads 1 and auto with TRAINKIT_THREAD_BUDGET=1 give 1 thread", async () => {
    // Each run is a fresh process, so the WebAssembly thread count is the one each payload asks for.
    const fixed = await plan({}, { computeThreads: 1 });
    const one = run("train", ["--payload", fixed.file, "--payload-sha256", fixed.sha], { timeout: 120_000 });
    expect(one.status, one.stderr).toBe(0);
    expect(manifestOf(fixed.jobDir).details).toMatchObject({
      computeThreads: 1,
      computeThreadsRequested: 1,
      computeThreadsSource: "execution.computeThreads",
    });
    const auto = await plan({}, { computeThreads: "auto" });
    const budget = run("train", ["--payload", auto.file], {
      env: { TRAINKIT_THREAD_BUDGET: "1" },
      timeout: 120_000,
    });
    expect(budget.status, budget.stderr).toBe(0);
    const manifest = manifestOf(auto.jobDir);
    expect(manifest.details).toMatchObject({
      computeThreads: 1,
      computeThreadsSource: "auto: TRAINKIT_THREAD_BUDGET=1",
    });
    expect(manifest.envVariables).toEqual(["TRAINKIT_THREAD_BUDGET"]);
    expect(JSON.parse(readFileSync(auto.file, "utf8")).config.execution.computeThreads).toBe("auto");
    // The flag, without --payload.
    const out = join(dir, "flag-run");
    const flag = run(
      "train",
      [
        "--train-data-file",
        trainFile,
        "--output-dir",
        out,
        "--n-groups",
        "16",
        "--nepochs",
        "1",
        "--batch-size",
        "8",
      ].concat(["--n-filters-scale", "1", "--checkpoint-monitor", "train_loss", "--compute-threads", "1"]),
      { timeout: 120_000 },
    );
    expect(flag.status, flag.stderr).toBe(0);
    expect(manifestOf(out).details.computeThreads).toBe(1);
  }, 240_000);
});
