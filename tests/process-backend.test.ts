// The process backend through the installed command, driving a faithful fake of upstream's
// `ptycho_torch.train` CLI (tests/fixtures/fake-ptycho-torch) and a tiny payload-dialect trainer.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { listFields } from "@trainkit/config-meta";
import { ExecutionConfigSchema } from "@trainkit/execution-config";
import { MODEL_DEFAULTS } from "@trainkit/training-config";
import { describe, expect, it } from "vitest";
import { writeBundle, writeDataset } from "../packages/factory/test/helpers.ts";
import { BINS, ROOT, run, tempDir } from "./helpers.ts";

const dir = tempDir("trainkit-process-");
const train = await writeDataset(join(dir, "train.npz"), { N: 64, M: 8 });
const FAKE = `python3 ${join(ROOT, "tests/fixtures/fake-ptycho-torch/train.py")}`;
const CHILD = `python3 ${join(ROOT, "tests/fixtures/payload-child.py")}`;
let count = 0;
const out = () => join(dir, `run-${count++}`);
const base = (o: string) => ["--train-data-file", train, "--n-groups", "8", "--output-dir", o];
const json = (path: string) => JSON.parse(readFileSync(path, "utf8"));

describe("--backend process", () => {
  it("gives a payload-dialect program the payload file, TRAINKIT_PAYLOAD and secrets by environment", () => {
    const o = out();
    const result = run("train", [
      ...base(o),
      "--backend",
      "process",
      "--command",
      CHILD,
      "--batch-size",
      "4",
      "--logger",
      "mlflow",
      "--mlflow-tracking-uri",
      "https://u:s3cret@ml",
    ]);
    expect(result.status, result.stderr).toBe(0);
    expect(json(join(o, "child.json"))).toEqual({
      kind: "training",
      batchSize: 4,
      envPayload: true,
      legacyBeside: true,
      secret: "https://u:s3cret@ml",
      maskedInFile: "***",
      threads: [null, null, null], // computeThreads auto without a budget: the program's own default
    });
    expect(readFileSync(join(o, "logs/stdout.log"), "utf8")).toBe("child: trained\n");
    expect(readFileSync(join(o, "logs/stderr.log"), "utf8")).toBe("child: a warning\n");
    expect(result.stdout).toContain("child: trained");
    expect(json(join(o, "manifest.json")).launcher).toMatchObject({
      backend: "process",
      command: CHILD,
      dialect: "payload",
    });
  });

  it("hands the program its compute threads: OMP_NUM_THREADS, MKL_NUM_THREADS and the budget", () => {
    const fixed = out();
    const three = run("train", [
      ...base(fixed),
      "--backend",
      "process",
      "--command",
      CHILD,
      "--compute-threads",
      "3",
    ]);
    expect(three.status, three.stderr).toBe(0);
    expect(json(join(fixed, "child.json")).threads).toEqual(["3", "3", "3"]);
    const auto = out();
    const budget = run("train", [...base(auto), "--backend", "process", "--command", CHILD], {
      env: { TRAINKIT_THREAD_BUDGET: "2" },
    });
    expect(budget.status, budget.stderr).toBe(0);
    expect(json(join(auto, "child.json")).threads).toEqual(["2", "2", "2"]);
  });

  it("refuses folds for the ptycho-torch dialect before the run, and honours compute threads there", () => {
    const ptycho = ["--backend", "process", "--command", FAKE, "--dialect", "ptycho-torch", "--dry-run"];
    const folds = run("train", [...base(out()), ...ptycho, "--fold-count", "3", "--fold-index", "1"]);
    expect(folds.status).toBe(2);
    expect(folds.stderr).toContain("The process backend cannot honour 2 settings:");
    expect(folds.stderr).toContain(
      'training.foldCount = 3 (from "--fold-count 3" on the command line): supported only its default null: ptycho_torch.train has no k-fold option',
    );
    const threads = run("train", [...base(out()), ...ptycho, "--compute-threads", "2"]);
    expect(threads.status, threads.stderr).toBe(0);
  });

  it("renders the upstream flags of every mapped knob for the ptycho-torch dialect", () => {
    const o = out();
    const result = run("train", [
      ...base(o),
      "--backend",
      "process",
      "--command",
      FAKE,
      "--dialect",
      "ptycho-torch",
      "--nepochs",
      "3",
      "--batch-size",
      "8",
      "--gridsize",
      "2",
      "--no-deterministic",
      "--num-workers",
      "2",
      "--learning-rate",
      "3e-4",
      "--logger",
      "tensorboard",
      "--disable-checkpointing",
      "--early-stop-patience",
      "5",
      "--quiet",
    ]);
    expect(result.status, result.stderr).toBe(0);
    const { argv } = json(join(o, "fake-argv.json")) as { argv: string[] };
    const pairs = (flag: string) => argv[argv.indexOf(flag) + 1];
    expect({
      train: pairs("--train_data_file"),
      out: pairs("--output_dir"),
      epochs: pairs("--max_epochs"),
      groups: pairs("--n_images"),
      batch: pairs("--batch_size"),
      gridsize: pairs("--gridsize"),
      accelerator: pairs("--accelerator"),
      workers: pairs("--num-workers"),
      lr: pairs("--learning-rate"),
      logger: pairs("--logger"),
      patience: pairs("--early-stop-patience"),
    }).toEqual({
      train,
      out: o,
      epochs: "3",
      groups: "8",
      batch: "8",
      gridsize: "2",
      accelerator: "cpu",
      workers: "2",
      lr: "0.0003",
      logger: "tensorboard",
      patience: "5",
    });
    expect(argv).toEqual(
      expect.arrayContaining(["--no-deterministic", "--disable-checkpointing", "--quiet"]),
    );
    expect(existsSync(join(o, "logs/command-help.txt"))).toBe(true);
  });

  it.each([
    ["defaults", []],
    ["gridsize 2, a test file, probe mask", ["--gridsize", "2", "--test-data-file", "TRAIN", "--probe-mask"]],
    ["agreeing explicit values", ["--neighbor-count", "6", "--no-object-big", "--amp-activation", "swish"]],
  ])(
    "payload, legacy-params.json and the fake's effective upstream settings agree (%s)",
    (_name, extra) => {
      const o = out();
      const result = run("train", [
        ...base(o),
        "--backend",
        "process",
        "--command",
        FAKE,
        "--dialect",
        "ptycho-torch",
        ...extra.map((w) => (w === "TRAIN" ? train : w)),
      ]);
      expect(result.status, result.stderr).toBe(0);
      const effective = json(join(o, "fake-effective.json")) as {
        params: Record<string, unknown>;
        execution: Record<string, unknown>;
      };
      const legacy = json(join(o, "legacy-params.json")) as Record<string, unknown>;
      const differences: string[] = [];
      for (const [key, value] of Object.entries(legacy)) {
        const theirs = effective.params[key] ?? null;
        if (JSON.stringify(theirs) !== JSON.stringify(value))
          differences.push(`${key}: payload ${JSON.stringify(value)}, program ${JSON.stringify(theirs)}`);
      }
      const execution = json(join(o, "payload.json")).config.execution as Record<string, unknown>;
      let compared = 0;
      for (const field of listFields(ExecutionConfigSchema)) {
        const name = field.meta.upstream;
        if (name === undefined || !(name in effective.execution)) continue;
        compared++;
        const ours = field.key === "logger" && execution.logger === "none" ? null : execution[field.key];
        if (JSON.stringify(effective.execution[name]) !== JSON.stringify(ours))
          differences.push(
            `execution.${field.key}: payload ${JSON.stringify(ours)}, program ${JSON.stringify(effective.execution[name])}`,
          );
      }
      expect(differences).toEqual([]);
      expect(Object.keys(legacy).length).toBeGreaterThan(35);
      expect(compared).toBeGreaterThan(30);
      const audit = json(join(o, "audit.json")).audit as {
        path: string;
        level: string;
        origin: { from?: string };
      }[];
      const resolvedAtRun = json(join(o, "audit.json")).resolvedAtRun;
      if (extra.includes("--test-data-file")) expect(resolvedAtRun).toBeUndefined();
      else
        expect(resolvedAtRun).toEqual([
          expect.objectContaining({ path: "execution.checkpointMonitor", value: "train_loss" }),
        ]);
      expect(audit.find((a) => a.path === "training.backend")).toMatchObject({
        level: "inferred",
        origin: {
          from: expect.stringContaining("what upstream's ptycho_torch.train uses when the flag is absent"),
        },
      });
    },
    60_000,
  );

  it("writes floats in payload.json and legacy-params.json so that Python reads floats", () => {
    const o = out();
    expect(run("train", [...base(o), "--backend", "process", "--command", CHILD]).status).toBe(0);
    const types = spawnSync(
      "python3",
      [
        "-c",
        [
          "import json, sys",
          "p = json.load(open(sys.argv[1]))['config']; l = json.load(open(sys.argv[2]))",
          "print(json.dumps({k: type(v).__name__ for k, v in [('nphotons', l['nphotons']), ('probe_scale', l['probe_scale']),",
          "  ('N', l['N']), ('batch_size', l['batch_size']), ('probeScale', p['model']['probeScale']),",
          "  ('nphotons_payload', p['training']['nphotons']), ('learningRate', p['execution']['learningRate']),",
          "  ('plateauThreshold', p['execution']['plateauThreshold']), ('seed', p['execution']['seed'])]}))",
        ].join("\n"),
        join(o, "payload.json"),
        join(o, "legacy-params.json"),
      ],
      { encoding: "utf8" },
    );
    expect(types.status, types.stderr).toBe(0);
    expect(JSON.parse(types.stdout)).toEqual({
      nphotons: "float",
      probe_scale: "float",
      N: "int",
      batch_size: "int",
      probeScale: "float",
      nphotons_payload: "float",
      learningRate: "float",
      plateauThreshold: "float",
      seed: "int",
    });
    expect(readFileSync(join(o, "legacy-params.json"), "utf8")).toContain('"nphotons": 1000000000.0,');
  }, 60_000);

  it("refuses before the run what upstream's program would reject or ignore", () => {
    const result = run("train", [
      ...base(out()),
      "--backend",
      "process",
      "--command",
      FAKE,
      "--dialect",
      "ptycho-torch",
      "--checkpoint-save-top-k",
      "-1",
      "--accumulate-grad-batches",
      "2",
      "--neighbor-count",
      "4",
      "--object-big",
      "--dry-run",
    ]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("cannot honour 4 settings");
    expect(result.stderr).toContain(
      'execution.checkpointSaveTopK = -1 (from "--checkpoint-save-top-k -1" on the command line): supported 0 or more',
    );
    expect(result.stderr).toContain("execution.accumulateGradBatches = 2");
    expect(result.stderr).toContain(
      'training.neighborCount = 4 (from "--neighbor-count 4" on the command line): supported upstream\'s value 6',
    );
    expect(result.stderr).toContain("model.objectBig = true");
  }, 60_000);

  it("refuses, listing every one, settings the program has no flag or choice for", () => {
    const result = run("train", [
      ...base(out()),
      "--backend",
      "process",
      "--command",
      FAKE,
      "--dialect",
      "ptycho-torch",
      "--optimizer",
      "sgd",
      "--n-filters-scale",
      "3",
      "--scheduler",
      "WarmupCosine",
      "--dry-run",
    ]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("The process backend cannot honour 3 settings:");
    expect(result.stderr).toContain(
      'model.nFiltersScale = 3 (from "--n-filters-scale 3" on the command line): supported upstream\'s value 2 (PT ModelConfig default): the program has no flag for it',
    );
    expect(result.stderr).toContain('execution.optimizer = "sgd"');
    expect(result.stderr).toContain('execution.scheduler = "WarmupCosine"');
  });

  it("runs with --allow-dropped and records what was dropped in the audit and the manifest", () => {
    const o = out();
    const result = run("train", [
      ...base(o),
      "--backend",
      "process",
      "--command",
      FAKE,
      "--dialect",
      "ptycho-torch",
      "--optimizer",
      "sgd",
      "--allow-dropped",
    ]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain("dropping execution.optimizer");
    expect(json(join(o, "manifest.json")).dropped).toEqual([
      expect.objectContaining({ path: "execution.optimizer", value: "sgd" }),
    ]);
    expect(json(join(o, "audit.json")).dropped).toEqual([
      expect.objectContaining({ path: "execution.optimizer" }),
    ]);
  });

  it("turns the program's exit code into the run's status", () => {
    const o = out();
    const result = run(
      "train",
      [...base(o), "--backend", "process", "--command", FAKE, "--dialect", "ptycho-torch"],
      { env: { FAKE_EXIT_CODE: "3" } },
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("the program exited with code 3");
    expect(json(join(o, "manifest.json"))).toMatchObject({
      status: "failed",
      exitCode: 1,
      details: { childExitCode: 3 },
    });
  });

  it("ends a run past --timeout", () => {
    const o = out();
    const started = Date.now();
    const result = run(
      "train",
      [...base(o), "--backend", "process", "--command", FAKE, "--dialect", "ptycho-torch", "--timeout", "1"],
      {
        env: { FAKE_SLEEP: "30" },
      },
    );
    expect(result.status).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(json(join(o, "manifest.json")).message).toContain("--timeout 1 s");
  });

  async function interrupt(o: string, env: Record<string, string>, extra: string[] = []) {
    const child = spawn(
      process.execPath,
      [
        BINS.train,
        ...base(o),
        "--backend",
        "process",
        "--command",
        FAKE,
        "--dialect",
        "ptycho-torch",
        ...extra,
      ],
      {
        env: { PATH: process.env.PATH ?? "", FAKE_SLEEP: "30", ...env },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    while (!existsSync(join(o, "fake-argv.json")) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGINT");
    return exited;
  }

  it("forwards Ctrl-C to the program and marks the run interrupted", async () => {
    const o = out();
    expect(await interrupt(o, {})).toBe(130);
    expect(existsSync(join(o, "fake-interrupted"))).toBe(true);
    expect(json(join(o, "manifest.json"))).toMatchObject({ status: "interrupted", exitCode: 130 });
  }, 30_000);

  it("escalates to SIGTERM when the program ignores SIGINT", async () => {
    const o = out();
    const config = join(dir, "grace.yaml");
    writeFileSync(config, "launcher:\n  stopGrace: 1\n");
    expect(await interrupt(o, { FAKE_IGNORE_SIGINT: "1" }, ["--config", config])).toBe(130);
    expect(existsSync(join(o, "fake-terminated"))).toBe(true);
  }, 30_000);

  it("reads backend, command and dialect from a launcher section of a config file, flags winning", () => {
    const o = out();
    const config = join(dir, "launcher.yaml");
    writeFileSync(
      config,
      `launcher:\n  backend: process\n  command: ${JSON.stringify(FAKE)}\n  dialect: ptycho-torch\ntraining:\n  nepochs: 2\n`,
    );
    const result = run("train", [...base(o), "--config", config]);
    expect(result.status, result.stderr).toBe(0);
    expect(json(join(o, "fake-argv.json")).argv).toEqual(expect.arrayContaining(["--max_epochs", "2"]));
    const typo = join(dir, "typo.yaml");
    writeFileSync(typo, "launcher:\n  comand: x\n");
    const bad = run("train", [...base(out()), "--config", typo, "--dry-run"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('launcher.comand: is not a launcher setting, got "x"');
    expect(bad.stderr).toContain('Did you mean "launcher.command"?');
  });

  it("renders upstream ptycho_torch.inference flags for trainkit-infer", async () => {
    const model = tempDir("trainkit-process-model-");
    await writeBundle(model, { ...MODEL_DEFAULTS });
    writeFileSync(join(model, "wts.h5.zip"), "not really a model");
    const o = out();
    const fake = `python3 ${join(ROOT, "tests/fixtures/fake-ptycho-torch/inference.py")}`;
    const result = run("infer", [
      "--model-path",
      model,
      "--test-data-file",
      train,
      "--output-dir",
      o,
      "--backend",
      "process",
      "--command",
      fake,
      "--dialect",
      "ptycho-torch",
      "--inference-batch-size",
      "32",
    ]);
    expect(result.status, result.stderr).toBe(0);
    const { argv } = json(join(o, "fake-argv.json")) as { argv: string[] };
    expect(argv.slice(0, 6)).toEqual(["--model_path", model, "--test_data", train, "--output_dir", o]);
    expect(argv).toEqual(expect.arrayContaining(["--inference-batch-size", "32", "--accelerator", "cpu"]));
  });

  it("runs trainkit-infer on a directory trained by upstream's program, or says why not", () => {
    const trained = out();
    expect(
      run("train", [...base(trained), "--backend", "process", "--command", FAKE, "--dialect", "ptycho-torch"])
        .status,
    ).toBe(0);
    expect(existsSync(join(trained, "wts.h5.zip"))).toBe(true);
    expect(existsSync(join(trained, "model.zip"))).toBe(false);
    const fake = `python3 ${join(ROOT, "tests/fixtures/fake-ptycho-torch/inference.py")}`;
    const infer = (o: string, extra: string[]) =>
      run("infer", ["--model-path", trained, "--test-data-file", train, "--output-dir", o, ...extra]);
    const upstream = ["--backend", "process", "--command", fake, "--dialect", "ptycho-torch"];
    const o = out();
    const ok = infer(o, [...upstream, "--patch-weighting", "uniform", "--n-groups", "16"]);
    expect(ok.status, ok.stderr).toBe(0);
    const payload = json(join(o, "payload.json")).config;
    // The model section is what the training run recorded upstream used (object.big false at gridsize 1).
    expect(payload.model).toMatchObject({ gridsize: 1, objectBig: false, ampActivation: "swish" });
    const effective = json(join(o, "fake-effective.json"));
    expect(effective.params.n_groups).toBe(payload.inference.nGroups);
    expect(effective.execution.patch_weighting).toBe(payload.execution.patchWeighting);
    // null ("every position") on the uniform path would be upstream's 32 groups: refused.
    const every = infer(out(), [...upstream, "--patch-weighting", "uniform", "--dry-run"]);
    expect(every.status).toBe(2);
    expect(every.stderr).toContain("inference.nGroups = null");
    expect(every.stderr).toContain("upstream would use 32 groups for null");
    // Probe weighting is upstream's barycentric path: every position, and no --n_images.
    const probe = infer(out(), [...upstream, "--n-groups", "16", "--dry-run"]);
    expect(probe.status).toBe(2);
    expect(probe.stderr).toContain("the barycentric path always uses the full scan");
    const embedded = infer(out(), ["--dry-run"]);
    expect(embedded.status).toBe(2);
    expect(embedded.stderr).toContain(
      "a directory trained by upstream's program (wts.h5.zip) runs with --backend process --dialect ptycho-torch",
    );
  }, 60_000);

  it("needs a command", () => {
    const result = run("train", [...base(out()), "--backend", "process", "--dry-run"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(
      '--backend process needs the program to run: --command "<program> [args]"',
    );
  });
});
