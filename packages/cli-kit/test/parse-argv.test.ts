import { isConfigError } from "@trainkit/config-meta";
import { describe, expect, it } from "vitest";
import { flagTable, isUsageError, OPTIONS, parseArgv, renderHelp } from "../src/index.ts";

const parse = (...argv: string[]) => parseArgv("training", argv, {});
const entries = (...argv: string[]) =>
  parse(...argv).layers.flatMap((l) => l.entries.map((e) => [l.level, e.path, e.value]));

function usage(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isUsageError(error) || isConfigError(error)) return (error as Error).message;
    throw error;
  }
  throw new Error("expected an error");
}

describe("flagTable", () => {
  it.each(["training", "inference"] as const)("gives every %s field exactly one primary flag", (kind) => {
    const table = flagTable(kind);
    const primaries = [...table.flags.values()].filter((s) => s.kind === "field" && s.primary);
    expect(primaries.length).toBe(new Set(primaries.map((s) => s.name)).size);
    expect(primaries.length).toBe([...new Set([...table.targets.values()])].length);
  });

  it("has the upstream aliases of the architecture contract", () => {
    const flags = flagTable("training").flags;
    const target = (name: string) => {
      const spec = flags.get(name);
      return spec?.kind === "field" ? `${spec.target.section}.${spec.target.field.key}` : spec?.kind;
    };
    expect(
      Object.fromEntries(
        [
          "train_data_file",
          "test_data_file",
          "output_dir",
          "max_epochs",
          "max-epochs",
          "epochs",
          "batch_size",
          "batch",
          "n_images",
          "device",
          "quiet",
          "accumulate-grad-batches",
          "checkpoint-monitor",
          "logger",
          "disable-checkpointing",
          "learning-rate",
          "num-workers",
          "inference-batch-size",
          "scheduler",
          "disable_mlflow",
        ].map((n) => [n, target(n)]),
      ),
    ).toMatchInlineSnapshot(`
      {
        "accumulate-grad-batches": "execution.accumulateGradBatches",
        "batch": "training.batchSize",
        "batch_size": "training.batchSize",
        "checkpoint-monitor": "execution.checkpointMonitor",
        "device": "execution.accelerator",
        "disable-checkpointing": "execution.enableCheckpointing",
        "disable_mlflow": "compound",
        "epochs": "training.nepochs",
        "inference-batch-size": "execution.inferenceBatchSize",
        "learning-rate": "execution.learningRate",
        "logger": "execution.logger",
        "max-epochs": "training.nepochs",
        "max_epochs": "training.nepochs",
        "n_images": "training.nGroups",
        "num-workers": "execution.numWorkers",
        "output_dir": "training.outputDir",
        "quiet": "execution.enableProgressBar",
        "scheduler": "execution.scheduler",
        "test_data_file": "training.testDataFile",
        "train_data_file": "training.trainDataFile",
      }
    `);
    expect(flagTable("inference").flags.get("test_data")).toMatchObject({
      kind: "field",
      target: { section: "inference" },
    });
  });
});

describe("OPTIONS", () => {
  it("is the one table of the options: each row gives a flag, its help line and its arity", () => {
    const table = flagTable("training");
    const help = renderHelp("training", "trainkit-train");
    for (const [name, option] of Object.entries(OPTIONS)) {
      expect(table.flags.get(name)).toMatchObject({ kind: "option", option: name, primary: true });
      expect(help).toContain(`--${name}${option.value ? ` ${option.value}` : ""}`);
      if (option.arity === "one") expect(usage(() => parse(`--${name}`))).toBe(`--${name} needs a value.`);
    }
  });
});

describe("parseArgv", () => {
  it("turns only the flags typed into layers: training flags at override, execution flags at execution", () => {
    expect(entries("--batch-size", "32", "--learning-rate=3e-4", "--no-deterministic", "--N", "128")).toEqual(
      [
        ["execution", "execution.learningRate", 3e-4],
        ["execution", "execution.deterministic", false],
        ["override", "training.batchSize", 32],
        ["override", "model.N", 128],
      ],
    );
    expect(entries()).toEqual([]);
  });

  it("keeps the exact tokens as the origin", () => {
    const layer = parse("--batch_size", "8", "--quiet").layers;
    expect(layer.flatMap((l) => l.entries.map((e) => e.origin))).toEqual([
      { kind: "cli", token: "--quiet" },
      { kind: "cli", token: "--batch_size 8" },
    ]);
  });

  it("keeps both values of a flag given twice (the last wins later)", () => {
    expect(entries("--nepochs", "3", "--epochs", "5")).toEqual([
      ["override", "training.nepochs", 3],
      ["override", "training.nepochs", 5],
    ]);
  });

  it("maps the deprecated and compound upstream flags, with warnings", () => {
    const parsed = parse("--device", "cuda", "--disable_mlflow", "--n_images", "64");
    expect(parsed.layers.flatMap((l) => l.entries.map((e) => [e.path, e.value]))).toEqual([
      ["execution.accelerator", "gpu"],
      ["execution.logger", "none"],
      ["execution.enableProgressBar", false],
      ["training.nGroups", 64],
    ]);
    expect(parsed.warnings.map((w) => w.message)).toMatchInlineSnapshot(`
      [
        "--device is deprecated; use --accelerator (--device cuda means --accelerator gpu).",
        "--disable_mlflow is deprecated; use --logger none and --quiet.",
        "--n_images is deprecated; use --n-groups.",
      ]
    `);
  });

  it("reads booleans, unions, lists, nulls and negative numbers", () => {
    expect(
      entries(
        "--pin-memory",
        "--persistent-workers",
        "false",
        "--deterministic",
        "warn",
        "--devices",
        "auto",
        "--lr-milestones",
        "10,20",
        "--prefetch-factor",
        "null",
        "--checkpoint-save-top-k",
        "-1",
      ),
    ).toEqual([
      ["execution", "execution.pinMemory", true],
      ["execution", "execution.persistentWorkers", false],
      ["execution", "execution.deterministic", "warn"],
      ["execution", "execution.devices", "auto"],
      ["execution", "execution.lrMilestones", [10, 20]],
      ["execution", "execution.prefetchFactor", null],
      ["execution", "execution.checkpointSaveTopK", -1],
    ]);
  });

  it("sets any field with --set at the override level", () => {
    expect(entries("--set", "execution.seed=7", "--set=training.nImages=9")).toEqual([
      ["override", "execution.seed", 7],
      ["override", "training.nImages", 9],
    ]);
  });

  it("collects config sources in the order typed, and always the environment", () => {
    const parsed = parseArgv(
      "training",
      ["--config", "a.yaml", "--from-run", "runs/x", "--config", "b.yaml", "--legacy-params", "p.json"],
      {
        HOME: "/root",
      },
    );
    expect(parsed.sources.map((s) => s.kind)).toEqual(["file", "run", "file", "legacy", "env"]);
  });

  it("reads actions", () => {
    expect(
      parse("--print-config", "--format", "json", "--explain", "training.batchSize", "--dry-run"),
    ).toMatchObject({
      printConfig: true,
      format: "json",
      explain: "training.batchSize",
      dryRun: true,
    });
    expect(parse("--explain").explain).toBe(true);
  });

  it("refuses value flags beside --payload without showing a secret they carry", () => {
    const message = usage(() =>
      parse(
        "--payload",
        "p.json",
        "--set",
        "execution.mlflowTrackingUri=https://u:s3cr3t@mlflow.example",
        "--mlflow-tracking-uri",
        "tok3n",
      ),
    );
    expect(message).toBe(
      '--payload runs a resolved payload as it is, so "--set execution.mlflowTrackingUri=***", "--mlflow-tracking-uri ***" cannot change it. Drop them, or build a new payload without --payload.',
    );
  });

  it("ignores a leading -- separator (pnpm train -- ...)", () => {
    expect(entries("--", "--nepochs", "2")).toEqual([["override", "training.nepochs", 2]]);
  });

  it.each([
    [["--batchsize", "3"], "unknown option --batchsize. Did you mean --batch-size?"],
    [["batch", "128"], 'unexpected argument "batch". Did you mean --batch 128?'],
    [["n_groups", "8"], 'unexpected argument "n_groups". Did you mean --n_groups 8?'],
    [["train.npz"], 'unexpected argument "train.npz": trainkit takes only --flags (see --help).'],
    [["--batch-size"], "--batch-size needs a value."],
    [["--quiet=yes"], "--quiet takes no value."],
    [
      ["--set", "training.batchsize=3"],
      '--set training.batchsize=3: "training.batchsize" is not a setting. Did you mean training.batchSize?',
    ],
    [["--format", "xml"], '--format must be yml or json, got "xml".'.replace("yml", "yaml")],
    [["--overwrite", "--resume"], "--overwrite and --resume exclude each other."],
    [
      ["--batch-size", "abc"],
      'training.batchSize: must be an integer, got "abc" (from "--batch-size abc" on the command line).',
    ],
    [
      ["--pin-memory=flase"],
      'execution.pinMemory: must be true or false (or 1/0, yes/no), got "flase" (from "--pin-memory=flase" on the command line).',
    ],
  ])("refuses %j", (argv, message) => {
    expect(usage(() => parse(...argv))).toBe(message);
  });
});

describe("renderHelp", () => {
  it.each(["training", "inference"] as const)(
    "keeps the %s help under 100 columns, grouped, with the precedence table",
    (kind) => {
      const help = renderHelp(kind, kind === "training" ? "trainkit-train" : "trainkit-infer");
      expect(Math.max(...help.split("\n").map((l) => l.length))).toBeLessThan(100);
      const groups = help.split("\n").filter((l) => /^[A-Z][a-z]+:$/.test(l));
      expect(groups).toEqual(
        kind === "training"
          ? ["Data:", "Model:", "Training:", "Execution:", "Output:", "Configuration:", "Run:", "Actions:"]
          : ["Data:", "Model:", "Inference:", "Execution:", "Output:", "Configuration:", "Run:", "Actions:"],
      );
      expect(help).toContain("1. override");
      expect(help).toContain("5. default");
    },
  );

  it("shows each default and marks required fields", () => {
    const help = renderHelp("training", "trainkit-train");
    expect(help).toMatch(/--batch-size N\s+Groups per optimisation step; a power of two. \(default: 16\)/);
    expect(help).toMatch(/--n-groups N\s+Number of groups[^\n]*\n[^\n]*\(required\)/);
    expect(help).toMatch(/--mlflow-tracking-uri URI[\s\S]*?\(default: null\)/);
  });
});

describe("upstream-only flags", () => {
  it.each([
    ["training", "--log-patch-stats", "patch-statistics diagnostics"],
    ["training", "--patch-stats-limit=4", "patch-statistics diagnostics"],
    ["training", "--profile", "--profile ci` forces its CI scaling contract"],
    ["training", "--scale-contract-version", "normalised-amplitude contract only"],
    ["inference", "--measurement-domain", "normalised-amplitude contract only"],
    ["training", "--ptycho_dir", "--train-data-file"],
    ["inference", "--varpro-scaling", "--patch-weighting probe|uniform"],
  ] as const)("refuses %s %s as upstream-only, saying what to use instead", (kind, flag, instead) => {
    let message = "";
    try {
      parseArgv(kind, [flag, "x"], {});
    } catch (error) {
      expect(isUsageError(error)).toBe(true);
      message = (error as Error).message;
    }
    const name = flag.slice(2).split("=")[0];
    expect(message).toContain(`--${name} is a flag of upstream's ptycho_torch.`);
    expect(message).toContain("that trainkit does not take");
    expect(message).toContain(instead);
  });

  it("treats --varpro-scaling for trainkit-train as an ordinary unknown flag (upstream's train has none)", () => {
    expect(() => parseArgv("training", ["--varpro-scaling"], {})).toThrow(/^unknown option --varpro-scaling/);
  });
});
