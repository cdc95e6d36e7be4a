// Hostile input (issue 15), through the real commands: secrets from every source never leak; bad
// data, bundles, run directories and programs are refused with exit code 2 before anything is
// written; a diverging loss fails the run and keeps only finite checkpoints. Ends with a bounded
// fast-check fuzz over argv and config sources.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runProgram } from "../packages/cli-kit/src/index.ts";
import { saveNpz } from "../packages/data/src/index.ts";
import { writeBundle, writeDataset } from "../packages/factory/test/helpers.ts";
import { BINS, run, tempDir } from "./helpers.ts";

const dir = tempDir("trainkit-hostile-");
const train = await writeDataset(join(dir, "train.npz"), { N: 64, M: 8, nphotons: 1e6 });
const SECRET = "Pa55-S3cr3t-zq";
const URI = `https://user:${SECRET}@mlflow.example.org:5000`;

/** Every file under a directory, with its text. */
function filesUnder(root: string): [string, string][] {
  if (!existsSync(root)) return [];
  const out: [string, string][] = [];
  for (const name of readdirSync(root)) {
    const path = join(root, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push([path, readFileSync(path, "latin1")]);
  }
  return out;
}

describe("secrets", () => {
  const out = join(dir, "secret-run");
  const base = ["--train-data-file", train, "--n-groups", "8", "--output-dir", out];
  const yaml = join(dir, "upstream-spelling.yaml");
  writeFileSync(yaml, `execution:\n  mlflow_tracking_uri: ${URI}\n`);
  const legacy = join(dir, "legacy.json");
  writeFileSync(legacy, JSON.stringify({ mlflow_tracking_uri: URI }));
  const launcherYaml = join(dir, "launcher.yaml");
  writeFileSync(launcherYaml, `launcher:\n  mlflowToken: ${SECRET}\n`);
  const cases: [string, string[], Record<string, string>?][] = [
    ["flag + --dry-run", [...base, "--mlflow-tracking-uri", URI, "--dry-run"]],
    ["flag=value + --explain", [...base, `--mlflow-tracking-uri=${URI}`, "--explain"]],
    ["flag + --explain json", [...base, "--mlflow-tracking-uri", URI, "--explain", "--format", "json"]],
    ["--set + --explain", [...base, "--set", `execution.mlflowTrackingUri=${URI}`, "--explain"]],
    ["--set upstream spelling", [...base, "--set", `execution.mlflow_tracking_uri=${URI}`]],
    ["config file upstream spelling", [...base, "--config", yaml, "--dry-run"]],
    ["legacy params upstream spelling", [...base, "--legacy-params", legacy, "--dry-run"]],
    ["unknown launcher key", [...base, "--config", launcherYaml, "--dry-run"]],
    ["stray word", ["mlflow-tracking-uri", URI]],
    ["environment", [...base, "--explain"], { TRAINKIT_EXECUTION_MLFLOW_TRACKING_URI: URI }],
    [
      "process dialect refusal",
      [
        ...base,
        "--mlflow-tracking-uri",
        URI,
        "--backend",
        "process",
        "--command",
        "/bin/true",
        "--dialect",
        "ptycho-torch",
        "--dry-run",
      ],
    ],
    ["URI password in another field", [...base, "--legacy-params", `https://u:${SECRET}@host/x.json`]],
  ];
  for (const [name, argv, env] of cases) {
    it(`never prints the secret: ${name}`, () => {
      const result = run("train", argv, env ? { env } : {});
      expect(result.stdout + result.stderr).not.toContain(SECRET);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    });
  }

  it("masks secrets in manifest argv, audit.json and every file of a run", () => {
    const runOut = join(dir, "secret-real-run");
    // the process backend gets the real value in its environment; everything saved has it masked
    const result = run("train", [
      "--train-data-file",
      train,
      "--n-groups",
      "8",
      "--output-dir",
      runOut,
      "--logger",
      "mlflow",
      "--mlflow-tracking-uri",
      URI,
      "--backend",
      "process",
      "--command",
      // the program prints the secret it was given: its logs and echo have it masked too
      `/bin/sh -c 'echo "uri=$TRAINKIT_EXECUTION_MLFLOW_TRACKING_URI"; echo "again $TRAINKIT_EXECUTION_MLFLOW_TRACKING_URI" >&2'`,
    ]);
    expect(result.status, result.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(runOut, "manifest.json"), "utf8"));
    expect(manifest.argv).toContain("***");
    expect(readFileSync(join(runOut, "logs/stdout.log"), "utf8")).toBe("uri=***\n");
    expect(readFileSync(join(runOut, "logs/stderr.log"), "utf8")).toBe("again ***\n");
    expect(result.stdout + result.stderr).not.toContain(SECRET);
    for (const [path, text] of filesUnder(runOut)) expect(text, path).not.toContain(SECRET);
  });
});

describe("bad data and bundles", () => {
  it("refuses NaN diffraction before training, naming file, array and index; writes nothing", async () => {
    const file = join(dir, "nan.npz");
    const N = 64;
    const M = 8;
    const diffraction = new Float32Array(M * N * N).fill(0.5);
    diffraction[N * N + 5] = Number.NaN;
    await saveNpz(file, {
      diffraction: { dtype: "f4", shape: [M, N, N], data: diffraction },
      probeGuess: { dtype: "c8", shape: [N, N], data: new Float32Array(N * N * 2).fill(1) },
      xcoords: { dtype: "f8", shape: [M], data: Float64Array.from({ length: M }, (_, i) => 40 + i) },
      ycoords: { dtype: "f8", shape: [M], data: Float64Array.from({ length: M }, (_, i) => 40 + i) },
    });
    const out = join(dir, "nan-run");
    for (const extra of [["--dry-run"], []]) {
      const result = run("train", [
        "--train-data-file",
        file,
        "--n-groups",
        "8",
        "--output-dir",
        out,
        ...extra,
      ]);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(
        `${file}: diffraction has 1 NaN or infinite values, the first at index [1, 0, 5]`,
      );
      expect(existsSync(out)).toBe(false);
    }
  });

  it("refuses a bundle with damaged weights with BAD_BUNDLE before the run directory exists", async () => {
    const bundleDir = join(dir, "bundle");
    mkdirSync(bundleDir);
    await writeBundle(bundleDir, { N: 64 }); // weights of 3 bytes: not a trainkit state
    const out = join(dir, "infer-run");
    for (const extra of [["--dry-run"], []]) {
      const result = run("infer", [
        "--model-path",
        bundleDir,
        "--test-data-file",
        train,
        "--output-dir",
        out,
        ...extra,
      ]);
      expect(result.status, result.stderr).toBe(2);
      expect(result.stderr).toContain(
        "is not a valid trainkit model bundle: weights/weights.npz cannot be decoded",
      );
      expect(existsSync(out)).toBe(false);
    }
  });

  describe("weights that do not fit the bundle's model", async () => {
    const { encodeWeights } = await import("../packages/engine/src/state.ts");
    const { modelVariableShapes } = await import("../packages/engine/src/shapes.ts");
    const { MODEL_DEFAULTS } = await import("../packages/training-config/src/index.ts");
    const { writeModelBundle } = await import("../packages/data/src/index.ts");
    const model = { ...MODEL_DEFAULTS, N: 64 as const, nFiltersScale: 1 };
    const stateOf = (config: Parameters<typeof modelVariableShapes>[0]) =>
      encodeWeights({
        meta: { intensityScale: 1 },
        arrays: modelVariableShapes(config).map((v) => ({
          name: v.name,
          shape: [...v.shape],
          data: new Float32Array(v.shape.reduce((a, b) => a * b, 1)).fill(0.01),
        })),
      });
    /** A bundle of `model` holding `weights`, every digest and CRC-32 correct. */
    const bundleWith = async (name: string, weights: Uint8Array, member = "weights.npz") => {
      const bundleDir = join(dir, name);
      mkdirSync(bundleDir);
      await writeModelBundle(join(bundleDir, "model.zip"), {
        backend: "embedded",
        packages: { "@trainkit/engine": "0.0.0" },
        payload: { kind: "training", config: { model, training: { nphotons: 1e6 }, execution: { seed: 1 } } },
        legacyParams: {},
        weights: { [member]: weights },
      });
      return bundleDir;
    };
    const infer = (bundleDir: string, extra: string[]) =>
      run("infer", [
        "--model-path",
        bundleDir,
        "--test-data-file",
        train,
        "--output-dir",
        join(bundleDir, "out"),
        ...extra,
      ]);
    const damaged = await stateOf(model);
    damaged[damaged.length >> 1]! ^= 0xff; // a byte inside an array's data: its CRC-32 no longer matches
    const cases: [string, Uint8Array, string][] = [
      [
        "wider layers (another nFiltersScale)",
        await stateOf({ ...model, nFiltersScale: 2 }),
        "enc1a/kernel has shape [3, 3, 1, 32], the model needs [3, 3, 1, 16]",
      ],
      [
        "another gridsize",
        await stateOf({ ...model, gridsize: 2 }),
        "enc1a/kernel has shape [3, 3, 4, 16], the model needs [3, 3, 1, 16]",
      ],
      [
        "missing layers (no probeBig)",
        await stateOf({ ...model, probeBig: false }),
        "it has no amp/outerA/kernel",
      ],
      [
        "other layers (padObject false)",
        await stateOf({ ...model, padObject: false }),
        "it has no amp/inner/kernel",
      ],
      ["a damaged member", damaged, "weights/weights.npz cannot be decoded"],
    ];
    for (const [i, [name, weights, message]] of cases.entries()) {
      it(`refuses ${name} with BAD_BUNDLE before the run directory exists`, async () => {
        const bundleDir = await bundleWith(`misfit-${i}`, weights);
        for (const extra of [["--dry-run"], []]) {
          const result = infer(bundleDir, extra);
          expect(result.status, result.stderr).toBe(2);
          expect(result.stderr).toContain(
            `${join(bundleDir, "model.zip")} is not a valid trainkit model bundle`,
          );
          expect(result.stderr).toContain(message);
          expect(existsSync(join(bundleDir, "out"))).toBe(false);
        }
      });
    }

    it("refuses a bundle without the engine's weights file, naming the member", async () => {
      const bundleDir = await bundleWith("no-weights", await stateOf(model), "torch.pt");
      for (const extra of [["--dry-run"], []]) {
        const result = infer(bundleDir, extra);
        expect(result.status, result.stderr).toBe(2);
        expect(result.stderr).toContain(
          `${join(bundleDir, "model.zip")} is not a valid trainkit model bundle: it has no weights/weights.npz`,
        );
        expect(existsSync(join(bundleDir, "out"))).toBe(false);
      }
    });

    it("accepts weights of the bundle's own model (dry run)", async () => {
      const bundleDir = await bundleWith("fits", await stateOf(model));
      const result = infer(bundleDir, ["--dry-run"]);
      expect(result.status, result.stderr).toBe(0);
    });
  });

  it("refuses /dev/zero as --model-path at once", () => {
    const started = Date.now();
    const result = run(
      "infer",
      ["--model-path", "/dev/zero", "--test-data-file", train, "--output-dir", join(dir, "z"), "--dry-run"],
      { timeout: 20_000 },
    );
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("/dev/zero: is a device");
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("refuses a FIFO named x.npz without hanging", () => {
    const fifo = join(dir, "x.npz");
    execFileSync("mkfifo", [fifo]);
    const result = run(
      "train",
      ["--train-data-file", fifo, "--n-groups", "8", "--output-dir", join(dir, "f"), "--dry-run"],
      { timeout: 20_000 },
    );
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("is a FIFO (named pipe)");
  });
});

describe("run directories, timeouts and programs", () => {
  const base = ["--train-data-file", train, "--n-groups", "8"];
  const cases: [string, string[], string][] = [
    ["--output-dir that is a file", ["--output-dir", train], "it is a file, not a directory"],
    ["--output-dir under a file", ["--output-dir", join(train, "x")], "a part of the path is a file"],
    ["--output-dir over 4 KB", ["--output-dir", join(dir, "a".repeat(5000))], "characters long, over 3800"],
    ["--output-dir under /proc", ["--output-dir", "/proc/nonexistent-out"], "kernel file system"],
    ["--timeout 600h", ["--output-dir", join(dir, "t"), "--timeout", "600h"], "at most 24 days"],
    [
      "missing program",
      ["--output-dir", join(dir, "p"), "--backend", "process", "--command", "/nonexistent/trainer"],
      "/nonexistent/trainer does not exist",
    ],
    [
      "a directory as program",
      ["--output-dir", join(dir, "p"), "--backend", "process", "--command", dir],
      "is a directory",
    ],
    [
      "a non-executable program",
      ["--output-dir", join(dir, "p"), "--backend", "process", "--command", train],
      "is not an executable file",
    ],
  ];
  for (const [name, argv, message] of cases) {
    it(`exits 2 with a coded message for ${name}, in the dry run and the real run`, () => {
      for (const extra of [["--dry-run"], []]) {
        const result = run("train", [...base, ...argv, ...extra], { timeout: 20_000 });
        expect(result.status, result.stderr).toBe(2);
        expect(result.stderr).toContain(message);
        expect(result.stderr).not.toContain("internal error");
      }
      expect(existsSync(join(dir, "p"))).toBe(false);
    });
  }

  it("refuses a launcher.timeout of .inf or 1e12 from a config file", () => {
    for (const value of [".inf", "1e12"]) {
      const yaml = join(dir, `timeout-${value}.yaml`);
      writeFileSync(yaml, `launcher:\n  timeout: ${value}\n`);
      const result = run("train", [...base, "--output-dir", join(dir, "t"), "--config", yaml, "--dry-run"]);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain("launcher.timeout: must be a duration");
    }
  });

  it("bounds JSON nesting of --legacy-params and --from-run payloads", () => {
    const deep = `${"[".repeat(5000)}${"]".repeat(5000)}`;
    writeFileSync(join(dir, "deep.json"), deep);
    const previous = join(dir, "previous-run");
    mkdirSync(previous);
    writeFileSync(join(previous, "payload.json"), `{"config":${'{"a":'.repeat(5000)}1${"}".repeat(5000)}}`);
    for (const argv of [
      ["--legacy-params", join(dir, "deep.json")],
      ["--from-run", previous],
    ]) {
      const result = run("train", [...base, "--output-dir", join(dir, "d"), ...argv, "--dry-run"]);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain("levels deep, over the limit of 64");
    }
  });
});

describe("YAML anchors, aliases and merge keys", () => {
  it("are refused with a message naming file, line and column", () => {
    const texts = [
      "training:\n  batchSize: &a 8\n  nepochs: *a\n",
      "training:\n  <<: {batchSize: 8}\n",
      "training:\n  nepochs: *undefinedAlias\n",
    ];
    for (const [i, text] of texts.entries()) {
      const yaml = join(dir, `anchors-${i}.yaml`);
      writeFileSync(yaml, text);
      const result = run("train", [
        "--train-data-file",
        train,
        "--n-groups",
        "8",
        "--output-dir",
        join(dir, "y"),
        "--config",
        yaml,
        "--print-config",
      ]);
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(
        new RegExp(`${yaml}:\\d+:\\d+: the (anchor|alias|merge key) .* is not supported`),
      );
    }
  });
});

describe("a diverging training run", () => {
  it("stops as failed when the loss becomes non-finite, writes no bundle and keeps only finite checkpoints", async () => {
    const out = join(dir, "diverge");
    const result = run(
      "train",
      [
        "--train-data-file",
        train,
        "--n-groups",
        "8",
        "--output-dir",
        out,
        "--nepochs",
        "6",
        "--batch-size",
        "4",
        "--n-filters-scale",
        "1",
        "--learning-rate",
        "1e30",
        "--optimizer",
        "sgd",
      ],
      { timeout: 120_000 },
    );
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr).toContain("became non-finite");
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    expect(manifest.status).toBe("failed");
    expect(existsSync(join(out, "model.zip"))).toBe(false);
    const { readCheckpoint } = await import("../packages/engine/src/loop/checkpoint-file.ts");
    if (existsSync(join(out, "checkpoints/last.ckpt"))) {
      const checkpoint = await readCheckpoint(join(out, "checkpoints/last.ckpt"));
      for (const a of checkpoint.model) expect(a.data.every(Number.isFinite), a.name).toBe(true);
    }
  }, 150_000);
});

describe("--resume after a SIGKILL", () => {
  it("removes the temporary files of cut-short writes and counts every epoch in epochsRun", () => {
    const out = join(dir, "resume-tmp");
    const args = [
      "--train-data-file",
      train,
      "--n-groups",
      "8",
      "--output-dir",
      out,
      "--batch-size",
      "4",
      "--n-filters-scale",
      "1",
    ];
    expect(run("train", [...args, "--nepochs", "1"], { timeout: 120_000 }).status).toBe(0);
    writeFileSync(join(out, "checkpoints", ".last.ckpt.k1ll3d.tmp"), "x".repeat(1000));
    writeFileSync(join(out, ".model.zip.k1ll3d.tmp"), "x".repeat(1000));
    const resumed = run("train", [...args, "--nepochs", "2", "--resume"], { timeout: 120_000 });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(existsSync(join(out, "checkpoints", ".last.ckpt.k1ll3d.tmp"))).toBe(false);
    expect(existsSync(join(out, ".model.zip.k1ll3d.tmp"))).toBe(false);
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    expect(manifest.details).toMatchObject({ epochsRun: 2, epochsThisRun: 1 });
  }, 150_000);
});

describe("messages that named nothing", () => {
  it("names the file and array of a non-finite scan position, not only its index", async () => {
    const file = join(dir, "nan-coords.npz");
    const N = 64;
    const M = 8;
    await saveNpz(file, {
      diffraction: { dtype: "f4", shape: [M, N, N], data: new Float32Array(M * N * N).fill(0.5) },
      probeGuess: { dtype: "c8", shape: [N, N], data: new Float32Array(N * N * 2).fill(1) },
      xcoords: { dtype: "f8", shape: [M], data: Float64Array.from({ length: M }, (_, i) => 40 + i) },
      ycoords: {
        dtype: "f8",
        shape: [M],
        data: Float64Array.from({ length: M }, (_, i) => (i === 0 ? Number.POSITIVE_INFINITY : 40 + i)),
      },
    });
    const out = join(dir, "nan-coords-run");
    const base = ["--train-data-file", file, "--n-groups", "8", "--output-dir", out];
    for (const extra of [["--dry-run"], [], ["--fold-count", "2", "--fold-index", "0"]]) {
      const result = run("train", [...base, ...extra]);
      expect(result.status, result.stderr).toBe(2);
      expect(result.stderr).toContain(
        `${file}: ycoords has 1 NaN or infinite values, the first at index [0] (Infinity); they must be finite.`,
      );
      expect(result.stderr).not.toContain("scan position 0 is not finite");
      expect(existsSync(out)).toBe(false);
    }
  });

  it("says why a device cannot be a legacy params file, with no placeholder", () => {
    const result = run("train", [
      "--train-data-file",
      train,
      "--n-groups",
      "8",
      "--output-dir",
      join(dir, "dev-zero-legacy"),
      "--legacy-params",
      "/dev/zero",
      "--dry-run",
    ]);
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      "trainkit-train: error: Legacy params file /dev/zero is not a regular file (a device, FIFO or socket); give the path of a file.\n",
    );
  });
});

describe("process backend: what the program leaves behind", () => {
  const script = (name: string, body: string) => {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return path;
  };
  /** Whether a process is still running (a zombie nobody reaped yet has ended). */
  const alive = (pidFile: string) => {
    const pid = Number(readFileSync(pidFile, "utf8"));
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
      return false;
    }
  };
  const grace = join(dir, "grace-1.yaml");
  writeFileSync(grace, "launcher:\n  stopGrace: 1\n");
  const processRun = (name: string, command: string, extra: string[] = []) => {
    const out = join(dir, name);
    const started = Date.now();
    const result = run(
      "train",
      [
        "--train-data-file",
        train,
        "--n-groups",
        "8",
        "--output-dir",
        out,
        "--backend",
        "process",
        "--command",
        command,
        ...extra,
      ],
      { timeout: 60_000 },
    );
    return { ...result, out, seconds: (Date.now() - started) / 1000 };
  };

  it("does not wait for a grandchild that holds the program's stdout, and ends it", () => {
    const pids = join(dir, "grandchild.pid");
    const program = script("leaves-grandchild.sh", `sleep 40 &\necho $! > ${pids}\necho started\nexit 0`);
    const result = processRun("grandchild", program, ["--timeout", "2"]);
    expect(result.status, result.stderr).toBe(0); // the program itself succeeded, long before --timeout
    expect(result.seconds).toBeLessThan(10); // 40 s before
    expect(result.stderr).toContain("left processes running in its group; they were ended (SIGTERM)");
    expect(readFileSync(join(result.out, "logs/stdout.log"), "utf8")).toBe("started\n");
    expect(alive(pids)).toBe(false);
    expect(JSON.parse(readFileSync(join(result.out, "manifest.json"), "utf8")).details).toMatchObject({
      leftBehindEnded: true,
    });
  });

  it("kills a grandchild that ignores SIGTERM after the grace period", () => {
    const pids = join(dir, "stubborn.pid");
    const program = script(
      "leaves-stubborn.sh",
      `sh -c 'trap "" TERM; sleep 40; sleep 1' &\necho $! > ${pids}\nsleep 0.2\nexit 3`,
    );
    const result = processRun("stubborn", program, ["--config", grace]);
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr).toContain("exited with code 3");
    expect(result.stderr).toContain("(SIGTERM, then SIGKILL)");
    expect(result.seconds).toBeLessThan(10);
    expect(alive(pids)).toBe(false);
  });

  it("kills a left-behind process that ignores SIGTERM even when it closed the program's pipes", () => {
    const pids = join(dir, "daemon.pid");
    const program = script(
      "leaves-daemon.sh",
      `sh -c 'trap "" TERM; echo $$ > ${pids}; exec sleep 40' > /dev/null 2>&1 &\nsleep 0.3\necho done`,
    );
    const result = processRun("daemon", program, ["--config", grace]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain("they were ended (SIGTERM, then SIGKILL)");
    expect(result.seconds).toBeLessThan(10);
    expect(alive(pids)).toBe(false);
  });

  it("ends the whole process group on --timeout", () => {
    const pids = join(dir, "timeout-group.pid");
    const program = script("sleeps-with-child.sh", `sleep 40 &\necho $! > ${pids}\nsleep 40`);
    const result = processRun("timeout-group", program, ["--timeout", "1"]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("ran past --timeout 1 s");
    expect(result.seconds).toBeLessThan(10);
    expect(alive(pids)).toBe(false);
  });

  it("stops reading a pipe held by a process that left the group, after the grace period", () => {
    const pids = join(dir, "escaped.pid");
    const program = script(
      "escapes.sh",
      `setsid sh -c 'echo $$ > ${pids}; exec sleep 30' &\nsleep 0.3\necho done`,
    );
    const result = processRun("escaped", program, ["--config", grace]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.seconds).toBeLessThan(10);
    process.kill(Number(readFileSync(pids, "utf8")), "SIGKILL"); // outside the group: not ours to end
  });

  it("ends the program's group when a second Ctrl-C makes trainkit exit at once", async () => {
    const pids = join(dir, "second-ctrl-c.pid");
    const program = script("ignores-sigint.sh", `trap "" INT\necho $$ > ${pids}\nsleep 40\nsleep 1`);
    const child = spawn(
      process.execPath,
      [
        BINS.train,
        ...["--train-data-file", train, "--n-groups", "8", "--output-dir", join(dir, "second-ctrl-c")],
        ...["--backend", "process", "--command", program],
      ],
      { env: { PATH: process.env.PATH ?? "" }, stdio: "ignore" },
    );
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    while (!existsSync(pids) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGINT");
    await new Promise((r) => setTimeout(r, 300));
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(pids)).toBe(false);
  });

  it("rotates the program's logs at 64 MiB and keeps its memory bounded however much it prints", () => {
    const out = join(dir, "big-output");
    // 150 MB of output without a line end, then a last line
    const program = script("prints-a-lot.sh", "head -c 150000000 /dev/zero | tr '\\0' x\necho\necho LAST");
    const rss = 'process.on("exit",()=>process.stderr.write("maxrss "+process.resourceUsage().maxRSS+"\\n"))';
    const result = spawnSync(
      process.execPath,
      [
        "--import",
        `data:text/javascript,${encodeURIComponent(rss)}`,
        BINS.train,
        ...["--train-data-file", train, "--n-groups", "8", "--output-dir", out],
        ...["--backend", "process", "--command", program],
      ],
      {
        stdio: ["ignore", "ignore", "pipe"],
        encoding: "utf8",
        timeout: 60_000,
        env: { PATH: process.env.PATH ?? "" },
      },
    );
    expect(result.status, result.stderr).toBe(0);
    const log = join(out, "logs/stdout.log");
    expect(statSync(`${log}.1`).size).toBe(64 * 2 ** 20);
    expect(statSync(log).size).toBe(150_000_000 + 6 - 2 * 64 * 2 ** 20);
    expect(readFileSync(log, "latin1").endsWith("x\nLAST\n")).toBe(true);
    const maxRssMiB = Number(/maxrss (\d+)/.exec(result.stderr)?.[1]) / 1024;
    console.log(`process backend, 150 MB of output: peak RSS ${maxRssMiB.toFixed(0)} MiB`);
    expect(maxRssMiB).toBeLessThan(200);
  });
});

describe("fuzz: hostile argv and config sources", () => {
  it(
    "always exits 2, with no stack trace, no write and no secret",
    async () => {
      const fuzzDir = join(dir, "fuzz");
      mkdirSync(fuzzDir);
      const out = join(fuzzDir, "out");
      const write = (name: string, text: string) => {
        const path = join(fuzzDir, name);
        writeFileSync(path, text);
        return path;
      };
      const nan = join(dir, "nan.npz");
      const badSources = [
        [
          "--config",
          write("bad-key.yaml", `training:\n  batch_size: 8\nexecution:\n  MLFLOW_TRACKING_URI: ${URI}\n`),
        ],
        ["--config", write("malformed.yaml", "training: [1, 2\n")],
        ["--config", write("duplicate.yaml", "training:\n  seed: 1\n  nepochs: 2\n  seed: 3\n")],
        [
          "--config",
          write(
            "many-keys.yaml",
            `training:\n${Array.from({ length: 5000 }, (_, i) => `  k${i}: ${i}\n`).join("")}`,
          ),
        ],
        ["--config", write("secret-key.json", JSON.stringify({ execution: { mlflowTrackingURI: URI } }))],
        ["--config", write("deep.yaml", `training: ${"[".repeat(200)}${"]".repeat(200)}\n`)],
        ["--config", write("bad-launcher.yaml", "launcher:\n  timeout: .inf\n")],
        [
          "--legacy-params",
          write("legacy.json", JSON.stringify({ mlflow_tracking_uri: URI, batch_size: "x" })),
        ],
        ["--legacy-params", write("legacy-deep.json", "[".repeat(3000) + "]".repeat(3000))],
        ["--legacy-params", "/dev/zero"],
        ["--train-data-file", nan],
        ["--output-dir", train],
        ["--output-dir", "/proc/fuzz-out"],
        ["--timeout", "1e9h"],
        ["--backend", "process", "--command", "/nonexistent/x"],
        ["--unknown-flag", URI],
        [`--mlflow_tracking_uri=${URI}`],
        ["--set", `execution.mlflow_tracking_url=${URI}`],
        ["--set", "training.batchSize=-3"],
        ["stray", URI],
      ];
      const flags = [
        "--batch-size",
        "--nepochs",
        "--learning-rate",
        "--seed",
        "--n-groups",
        "--gridsize",
        "--logger",
        "--mlflow-tracking-uri",
        "--num-workers",
        "--set",
        "--explain",
        "--format",
        "--config",
      ];
      const values = [
        "8",
        "-1",
        "0",
        "NaN",
        "1e999",
        "abc",
        "",
        "0x10",
        "true",
        URI,
        "x".repeat(300),
        "training.nepochs=2",
        "json",
      ];
      const noise = fc.array(fc.tuple(fc.constantFrom(...flags), fc.constantFrom(...values)), {
        maxLength: 4,
      });
      const env = fc.dictionary(
        fc.constantFrom(
          "TRAINKIT_EXECUTION_MLFLOW_TRACKING_URI",
          "TRAINKIT_TRAINING_BATCH_SIZE",
          "TRAINKIT_EXECUTION_SEED",
        ),
        fc.constantFrom("8", "-2", URI, "x"),
        { maxKeys: 2 },
      );
      const figures = { cases: 0, crashes: 0, stackTraces: 0, leaks: 0, writes: 0, peakRssMiB: 0 };
      await fc.assert(
        fc.asyncProperty(
          noise,
          fc.constantFrom(...badSources),
          env,
          fc.boolean(),
          async (pairs, bad, environment, dryRun) => {
            const argv = [
              "--train-data-file",
              train,
              "--n-groups",
              "8",
              "--output-dir",
              out,
              ...pairs.flat(),
              ...bad,
              ...(dryRun ? ["--dry-run"] : []),
            ];
            let text = "";
            const code = await runProgram({ kind: "training", name: "trainkit-train" }, argv, {
              stdout: (t) => {
                text += t;
              },
              stderr: (t) => {
                text += t;
              },
              env: environment,
              isTTY: false,
            });
            figures.cases++;
            figures.peakRssMiB = Math.max(figures.peakRssMiB, process.memoryUsage().rss / 2 ** 20);
            if (code !== 2) figures.crashes++;
            if (/\n\s+at |internal error/.test(text)) figures.stackTraces++;
            if (text.includes(SECRET)) figures.leaks++;
            if (existsSync(out)) figures.writes++;
            expect(code, `${argv.join(" ")}\n${text}`).toBe(2);
            expect(text).not.toMatch(/\n\s+at |internal error/);
            expect(text).not.toContain(SECRET);
            expect(existsSync(out)).toBe(false);
          },
        ),
        // FUZZ_RUNS / FUZZ_MS / FUZZ_SEED make a longer hostile run (docs/errors.md); the suite stays bounded.
        {
          numRuns: Number(process.env.FUZZ_RUNS ?? 1000),
          interruptAfterTimeLimit: Number(process.env.FUZZ_MS ?? 6000),
          seed: Number(process.env.FUZZ_SEED ?? 15),
        },
      );
      console.log(`hostile fuzz: ${JSON.stringify(figures)}`);
      expect(figures.cases).toBeGreaterThan(50);
    },
    Number(process.env.FUZZ_MS ?? 6000) + 24_000,
  );
});
