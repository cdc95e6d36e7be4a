import { writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { renderHelp } from "../packages/cli-kit/src/index.ts";
import { writeBundle, writeDataset } from "../packages/factory/test/helpers.ts";
import { run, tempDir } from "./helpers.ts";

const dir = tempDir();
const train = await writeDataset(join(dir, "train.npz"), { N: 64, M: 8, nphotons: 1e6 });
const base = ["--train-data-file", train, "--n-groups", "8", "--output-dir", join(dir, "run")];
const json = (text: string) => JSON.parse(text) as Record<string, Record<string, unknown>>;

describe("trainkit-train", () => {
  it("prints grouped help under 100 columns and exits 0", () => {
    const { status, stdout } = run("train", ["--help"]);
    expect(status).toBe(0);
    expect(stdout).toContain("Usage: trainkit-train --train-data-file FILE --n-groups N --output-dir DIR");
    expect(Math.max(...stdout.split("\n").map((l) => l.length))).toBeLessThan(100);
    expect(stdout).toBe(renderHelp("training", "trainkit-train"));
    expect(run("train", ["--batchsize", "3", "-h"]).stdout).toBe(stdout);
  });

  it("shows precedence: flag over env over config file over inferred over default", () => {
    const yaml = join(dir, "exp.yaml");
    writeFileSync(yaml, "training:\n  batchSize: 8\n  nepochs: 3\n  nllWeight: 0.5\nexecution:\n  seed: 1\n");
    const { status, stdout, stderr } = run(
      "train",
      [...base, "--config", yaml, "--batch-size", "32", "--print-config", "--format", "json"],
      { env: { TRAINKIT_TRAINING_NEPOCHS: "4", TRAINKIT_EXECUTION_SEED: "2" } },
    );
    expect(stderr).toBe("");
    expect(status).toBe(0);
    const config = json(stdout);
    expect(config.training).toMatchObject({
      batchSize: 32,
      nepochs: 4,
      nllWeight: 0.5,
      nphotons: 1e6,
      nGroups: 8,
    });
    expect(config.execution).toMatchObject({ seed: 2, accelerator: "cpu" });
    expect(config.model).toMatchObject({ N: 64 });
  });

  it("explains one value in text and every value in JSON", () => {
    const yaml = join(dir, "explain.yaml");
    writeFileSync(yaml, "training:\n  batchSize: 8\n");
    const text = run("train", [
      ...base,
      "--config",
      yaml,
      "--batch",
      "16",
      "--batch-size",
      "32",
      "--explain",
      "training.batchSize",
    ]);
    expect(text.status).toBe(0);
    expect(text.stdout).toBe(
      [
        "training.batchSize = 32",
        '    from     override  "--batch-size 32" on the command line',
        '    shadows  override  "--batch 16" on the command line: 16',
        `             config    ${yaml}:2:14: 8`,
        "             default   the default: 16",
        "",
      ].join("\n"),
    );
    const all = run("train", [...base, "--explain", "--format", "json"]);
    const entries = JSON.parse(all.stdout) as { path: string; level: string }[];
    expect(entries.find((e) => e.path === "model.N")).toMatchObject({ level: "inferred" });
    expect(entries.length).toBeGreaterThan(80);
  });

  it.each([
    [
      ["--train_data_file", train, "--n_images", "8", "--output_dir", join(dir, "r")],
      "training.nGroups",
      8,
      "--n_images is deprecated",
    ],
    [[...base, "--max_epochs", "7"], "training.nepochs", 7, ""],
    [[...base, "--epochs", "6"], "training.nepochs", 6, ""],
    [[...base, "--device", "cuda"], "execution.accelerator", "gpu", "--device is deprecated"],
    [[...base, "--disable_mlflow"], "execution.logger", "none", "--disable_mlflow is deprecated"],
    [[...base, "--quiet"], "execution.enableProgressBar", false, ""],
    [[...base, "--disable-checkpointing"], "execution.enableCheckpointing", false, ""],
    [[...base, "--accumulate-grad-batches", "4"], "execution.accumulateGradBatches", 4, ""],
    [[...base, "--checkpoint-monitor", "train_loss"], "execution.checkpointMonitor", "train_loss", ""],
    [[...base, "--set", "model.gridsize=2"], "model.gridsize", 2, ""],
  ])("accepts %j", (argv, path, value, warning) => {
    const { status, stdout, stderr } = run("train", [...argv, "--print-config", "--format", "json"]);
    expect(status).toBe(0);
    const [section, key] = path.split(".") as [string, string];
    expect(json(stdout)[section]?.[key]).toEqual(value);
    if (warning) expect(stderr).toContain(warning);
  });

  it.each([
    [["--batchsize", "3"], "trainkit-train: error: unknown option --batchsize. Did you mean --batch-size?"],
    [
      [...base, "batch", "128"],
      'trainkit-train: error: unexpected argument "batch". Did you mean --batch 128?',
    ],
    [
      [...base, "--batch-size", "12"],
      'trainkit-train: error: training.batchSize: must be a power of two (1, 2, 4, 8, ...), got 12 (from "--batch-size 12" on the command line).',
    ],
    [
      [...base, "--accelerator", "tpu"],
      "trainkit-train: error: execution.accelerator: TPUs are not supported",
    ],
    [["--n-groups", "8"], "trainkit-train: error: training.trainDataFile: is required and has no value."],
    [
      ["--train-data-file", join(dir, "nope.npz"), "--n-groups", "8"],
      `trainkit-train: error: training.trainDataFile ("--train-data-file ${join(dir, "nope.npz")}" on the command line): ${join(dir, "nope.npz")} does not exist.`,
    ],
    [
      [...base, "--config", join(dir, "missing.yaml")],
      `trainkit-train: error: Config file ${join(dir, "missing.yaml")} does not exist.`,
    ],
  ])("exits 2 with one clear line for %j", (argv, message) => {
    const { status, stderr } = run("train", argv);
    expect(status).toBe(2);
    expect(stderr.split("\n")[0]).toContain(message);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it("names the variable of a bad TRAINKIT_ value and suggests the closest name for an unknown one", () => {
    const bad = run("train", [...base, "--print-config"], { env: { TRAINKIT_TRAINING_BATCH_SIZE: "abc" } });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain(
      'training.batchSize: must be an integer, got "abc" (from environment variable TRAINKIT_TRAINING_BATCH_SIZE)',
    );
    const unknown = run("train", [...base, "--print-config"], { env: { TRAINKIT_TRAINING_BATCHSIZE: "8" } });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("Did you mean TRAINKIT_TRAINING_BATCH_SIZE?");
  });

  it("reports malformed YAML with its line and an unknown key with the closest one", () => {
    const broken = join(dir, "broken.yaml");
    writeFileSync(broken, "training:\n  batchSize: 8\n nepochs: 3\n");
    const malformed = run("train", [...base, "--config", broken, "--print-config"]);
    expect(malformed.status).toBe(2);
    expect(malformed.stderr).toMatch(new RegExp(`${broken.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3:\\d+: `));
    const typo = join(dir, "typo.yaml");
    writeFileSync(typo, "training:\n  batch_size: 8\n");
    const unknown = run("train", [...base, "--config", typo, "--print-config"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain(
      `training.batch_size: is not a known setting, got 8 (from ${typo}:2:15). Did you mean "training.batchSize"?`,
    );
  });

  it("dry-runs: validates, checks the backend, writes nothing", () => {
    const out = join(dir, "dry");
    const ok = run("train", [
      "--train-data-file",
      train,
      "--n-groups",
      "8",
      "--output-dir",
      out,
      "--dry-run",
    ]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain("Nothing was written.");
    const refused = run("train", [
      "--train-data-file",
      train,
      "--n-groups",
      "8",
      "--output-dir",
      out,
      "--gridsize",
      "3",
      "--dry-run",
    ]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain(
      'model.gridsize = 3 (from "--gridsize 3" on the command line): supported 1 or 2',
    );
  });

  it("refuses an existing non-empty run directory", () => {
    const out = tempDir();
    writeFileSync(join(out, "keep.txt"), "x");
    const { status, stderr } = run("train", [
      "--train-data-file",
      train,
      "--n-groups",
      "8",
      "--output-dir",
      out,
      "--dry-run",
    ]);
    expect(status).toBe(2);
    expect(stderr).toContain("is not empty. Use --overwrite to replace it, --resume to continue its run");
  });

  it("never crashes on random argv: exit 0 or 2, never a stack trace", () => {
    const tokens = fc.constantFrom(
      "--batch-size",
      "32",
      "abc",
      "--n-groups",
      "-1",
      "--quiet",
      "--no-quiet",
      "--explain",
      "--format",
      "yaml",
      "xml",
      "--set",
      "training.nepochs=2",
      "model.N=7",
      "--device",
      "cuda",
      "batch",
      "--",
      "--lr",
      "--learning-rate",
      "1e-3",
      "--print-config",
      "--config",
      "--gridsize",
      "2",
      "--deterministic",
      "warn",
      "=",
      "--=",
      "---x",
      "--N",
    );
    fc.assert(
      fc.property(fc.array(tokens, { maxLength: 6 }), (argv) => {
        const { status, stderr } = run("train", [...base, ...argv, "--print-config"]);
        expect([0, 2]).toContain(status);
        expect(stderr).not.toContain("internal error");
        expect(stderr).not.toMatch(/\n\s+at /);
      }),
      { numRuns: 25 },
    );
  });
});

describe("trainkit-infer", () => {
  it("takes the model from the bundle and refuses a conflicting explicit value", async () => {
    const runDir = tempDir();
    await writeBundle(runDir, { N: 64, gridsize: 1, modelType: "pinn" });
    const args = ["--model-path", runDir, "--test-data-file", train, "--output-dir", join(dir, "inf")];
    const ok = run("infer", [...args, "--print-config", "--format", "json"]);
    expect(ok.status).toBe(0);
    expect(json(ok.stdout).inference).toMatchObject({
      modelPath: runDir,
      testDataFile: train,
      nGroups: null,
    });
    const conflict = run("infer", [...args, "--gridsize", "2", "--print-config"]);
    expect(conflict.status).toBe(2);
    expect(conflict.stderr).toContain("model.gridsize: disagrees with the model bundle");
    const help = run("infer", ["--help"]);
    expect(help.stdout).toContain("--test-data-file FILE");
    expect(help.stdout).toContain("--test_data");
  });
});
