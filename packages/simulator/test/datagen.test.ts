import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { listFields } from "@trainkit/config-meta";
import { checkDataContract, loadNpz, readMetadata, readNphotons } from "@trainkit/data";
import { describe, expect, it } from "vitest";
import { main, USAGE } from "../src/datagen-cli.ts";
import { DatagenOptionsSchema } from "../src/index.ts";
import { messageOf, tempDir } from "./helpers.ts";

const tmp = tempDir();
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const BIN = join(ROOT, "packages", "simulator", "src", "bin", "datagen.ts");
let counter = 0;

function freshPath(): string {
  return join(tmp, `run-${counter++}`);
}

/** Runs `main` with captured output; paths under the temporary folder read `<tmp>`. */
async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  });
  return { code, stdout: messageOf(stdout, tmp), stderr: messageOf(stderr, tmp) };
}

describe("main", () => {
  it("prints the usage for --help and exits 0", async () => {
    const { code, stdout, stderr } = await run("--help");
    expect([code, stderr]).toEqual([0, ""]);
    expect(stdout).toMatchInlineSnapshot(`
      "Usage: trainkit-datagen --out DIR [options]
             trainkit-datagen --single FILE [options]

      Simulates a ptychography dataset that satisfies the PtychoPINN NPZ contract (diffraction amplitudes,
      probeGuess, objectGuess, Y, xcoords/ycoords, _metadata) and writes DIR/train.npz and DIR/test.npz,
      or one FILE with every position.

      Options:
        --out DIR                folder for train.npz and test.npz (created if missing)
        --single FILE            write one file with every position instead
        --n N                    probe and pattern size, an even integer from 16 to 1024 (default 64)
        --positions M            number of scan positions (default 512)
        --overlap F              fraction of the probe diameter neighbours share, in [0, 1) (default 0.7)
        --jitter F               random offset of each position, a fraction of the step in [0, 1] (default 0.1)
        --nphotons X             mean total counts per pattern (default 1e9)
        --seed S                 random seed, an integer >= 0 (default 0)
        --test-fraction F        share of the positions in test.npz, in (0, 1) (default 0.25)
        --probe-diameter PX      probe aperture diameter in pixels, from 2 to N (default N/2)
        --defocus RAD            probe phase at the aperture edge in radians (default 3)
        --amplitude-min A        smallest object amplitude, in [0, 1); it spans [A, 1] (default 0.5)
        --no-noise, --noiseless  Poisson noise on the counts, or the expected counts when off (default on)
        --compress               deflate the arrays, like numpy.savez_compressed (default off)
        -h, --help               show this help

      Exit codes: 0 written, 1 could not write, 2 bad input (nothing is written).
      "
    `);
    expect((await run("-h")).stdout).toBe(stdout);
  });

  it("takes its flags, help lines and defaults from the fields of DatagenOptionsSchema", async () => {
    const fields = listFields(DatagenOptionsSchema);
    expect(fields.map((f) => f.key)).toEqual(
      expect.arrayContaining(["out", "single", "N", "noise", "compress"]),
    );
    for (const field of fields) {
      const line = USAGE.split("\n").find((l) => l.includes(field.meta.description));
      expect(line, field.key).toBeDefined();
      expect(line, field.key).toContain(
        field.kind === "boolean" && field.defaultValue === true ? `--no-${field.flag}` : `--${field.flag}`,
      );
    }
    // A flag for every number field: each one reaches its field (an infinite value names it).
    for (const field of fields.filter((f) => f.kind === "number")) {
      const { stderr } = await run("--out", join(tmp, `flag-${field.key}`), `--${field.flag}`, "1e999");
      expect(stderr, field.key).toContain(`${field.key}: must be`);
    }
  });

  it("writes DIR/train.npz and DIR/test.npz, creating DIR, and prints one line per file", async () => {
    const dir = join(freshPath(), "nested");
    const result = await run(
      "--out",
      dir,
      "--n",
      "16",
      "--positions",
      "12",
      "--nphotons",
      "1e6",
      "--seed",
      "2",
    );
    expect(result).toMatchInlineSnapshot(`
      {
        "code": 0,
        "stderr": "",
        "stdout": "wrote <tmp>/run-0/nested/train.npz: M=9 N=16 nphotons=1000000 bytes=39298
      wrote <tmp>/run-0/nested/test.npz: M=3 N=16 nphotons=1000000 bytes=20622
      ",
      }
    `);
    for (const name of ["train.npz", "test.npz"]) {
      const npz = await loadNpz(join(dir, name));
      expect(checkDataContract(npz, { purpose: "train", modelType: "supervised" })).toEqual({
        errors: [],
        warnings: [],
      });
      expect((await readNphotons(join(dir, name)))?.value).toBe(1e6);
    }
  });

  it("passes every option through: --test-fraction, --overlap, --jitter, --probe-diameter, --defocus, --amplitude-min, --no-noise", async () => {
    const dir = freshPath();
    const { code } = await run(
      ...["--out", dir, "--n", "16", "--positions", "10", "--test-fraction", "0.5", "--overlap", "0.5"],
      ...["--jitter", "0", "--probe-diameter", "10", "--defocus", "1.5", "--amplitude-min", "0.25"],
      ...["--no-noise", "--compress"],
    );
    expect(code).toBe(0);
    const npz = await loadNpz(join(dir, "test.npz"));
    expect(npz.arrays.get("diffraction")?.shape).toEqual([5, 16, 16]);
    expect(readMetadata(npz)).toMatchObject({
      physics_parameters: {
        N: 16,
        overlap: 0.5,
        jitter: 0,
        probe_diameter: 10,
        defocus: 1.5,
        step: 5,
        poisson_noise: false,
        amplitude_min: 0.25,
      },
      split: "test",
    });
  });

  it("writes one file with every position for --single", async () => {
    const file = join(freshPath(), "all.npz");
    const result = await run("--single", file, "--N", "16", "--positions", "5");
    expect(result).toMatchInlineSnapshot(`
      {
        "code": 0,
        "stderr": "",
        "stdout": "wrote <tmp>/run-2/all.npz: M=5 N=16 nphotons=1000000000 bytes=25834
      ",
      }
    `);
    expect((await loadNpz(file)).arrays.get("xcoords")?.shape).toEqual([5]);
  });

  it("writes the same bytes as a second run with the same flags", async () => {
    const [a, b] = [freshPath(), freshPath()];
    for (const dir of [a, b]) expect((await run("--out", dir, "--n", "16", "--positions", "6")).code).toBe(0);
    for (const name of ["train.npz", "test.npz"]) {
      expect(readFileSync(join(a, name)).equals(readFileSync(join(b, name)))).toBe(true);
    }
  });

  it("exits 2 with one line on stderr and writes nothing for bad input", async () => {
    const dir = freshPath();
    const cases = [
      ["--out", dir, "--bogus"],
      ["--out", dir, "--nphotns", "5"],
      ["--out", dir, "positions", "12"],
      ["--out", dir, "--noiseless", "--noise"],
      ["--out", dir, "--n", "16", "--N", "32"],
      ["--out", dir, "--n"],
      ["--out", dir, "stray"],
      ["--out", dir, "--n", "abc"],
      ["--out", dir, "--n", "0x10"],
      ["--out", dir, "--nphotons", ""],
      ["--out", dir, "--n", "15"],
      ["--out", dir, "--n", "16", "--probe-diameter", "20"],
      ["--out", dir, "--overlap", "1"],
      ["--out", dir, "--nphotons", "-5"],
      ["--out", dir, "--nphotons=-5"],
      ["--out", dir, "--seed", "1.5"],
      ["--out", dir, "--positions", "4", "--test-fraction", "0.1"],
      ["--out", dir, "--test-fraction", "1"],
      ["--out", dir, "--n", "16", "--n", "32"],
      ["--out", dir, "--noiseless=yes"],
      ["--n", "16"],
      ["--out", dir, "--single", join(dir, "x.npz")],
      ["--single", join(dir, "x.npz"), "--test-fraction", "0.5"],
      ["--out", ""],
    ];
    const lines: string[] = [];
    for (const argv of cases) {
      const { code, stdout, stderr } = await run(...argv);
      expect(code, argv.join(" ")).toBe(2);
      expect(stdout).toBe("");
      expect(stderr.endsWith("\n") && stderr.indexOf("\n") === stderr.length - 1, stderr).toBe(true);
      expect(stderr).not.toMatch(/\bat .*:\d+:\d+/); // no stack trace
      lines.push(stderr.trimEnd());
    }
    expect(lines).toMatchInlineSnapshot(`
      [
        "trainkit-datagen: unknown option --bogus. Run trainkit-datagen --help for usage.",
        "trainkit-datagen: unknown option --nphotns. Did you mean --nphotons? Run trainkit-datagen --help for usage.",
        "trainkit-datagen: unexpected argument "positions"; trainkit-datagen takes only options. Did you mean --positions 12? Run trainkit-datagen --help for usage.",
        "trainkit-datagen: --noiseless and --noise both set noise; give one of them. Run trainkit-datagen --help for usage.",
        "trainkit-datagen: --n and --N both set N; give one of them. Run trainkit-datagen --help for usage.",
        "trainkit-datagen: --n needs a value (N). Run trainkit-datagen --help for usage.",
        "trainkit-datagen: unexpected argument "stray"; trainkit-datagen takes only options. Run trainkit-datagen --help for usage.",
        "trainkit-datagen: N: must be a finite number, got "abc" (from "--n abc" on the command line).",
        "trainkit-datagen: N: must be a finite number, got "0x10" (from "--n 0x10" on the command line).",
        "trainkit-datagen: nphotons: must be a finite number, got "" (from "--nphotons ''" on the command line).",
        "trainkit-datagen: N: must be an even integer from 16 to 1024, got 15 (from "--n 15" on the command line).",
        "trainkit-datagen: probeDiameter: must be a number of pixels from 2 to N (16), got 20 (from "--probe-diameter 20" on the command line).",
        "trainkit-datagen: overlap: must be a fraction in [0, 1) (0 = neighbouring probes just touch), got 1 (from "--overlap 1" on the command line).",
        "trainkit-datagen: nphotons: must be a positive finite number, got -5 (from "--nphotons -5" on the command line).",
        "trainkit-datagen: nphotons: must be a positive finite number, got -5 (from "--nphotons=-5" on the command line).",
        "trainkit-datagen: seed: must be an integer from 0 to 2^53 - 1, got 1.5 (from "--seed 1.5" on the command line).",
        "trainkit-datagen: testFraction: must leave at least one of the 4 positions in each of train and test (it gives 0 test positions), got 0.1 (from "--test-fraction 0.1" on the command line). Use more positions or another split.",
        "trainkit-datagen: testFraction: must be a fraction in (0, 1), got 1 (from "--test-fraction 1" on the command line).",
        "trainkit-datagen: --n is given more than once; give it once. Run trainkit-datagen --help for usage.",
        "trainkit-datagen: --noiseless takes no value. Run trainkit-datagen --help for usage.",
        "trainkit-datagen: give --out DIR (writes DIR/train.npz and DIR/test.npz) or --single FILE. Run trainkit-datagen --help for usage.",
        "trainkit-datagen: give either --out DIR or --single FILE, not both. Run trainkit-datagen --help for usage.",
        "trainkit-datagen: --test-fraction splits --out DIR into train and test; --single writes one file without a split. Run trainkit-datagen --help for usage.",
        "trainkit-datagen: out: must be a non-empty path, got "" (from "--out ''" on the command line).",
      ]
    `);
    expect(existsSync(dir)).toBe(false);
  });

  it("reports every bad value at once, one line each, and writes nothing", async () => {
    const dir = freshPath();
    const { code, stdout, stderr } = await run("--out", dir, "--n", "15", "--overlap", "2", "--seed=-1");
    expect([code, stdout]).toEqual([2, ""]);
    expect(stderr).toMatchInlineSnapshot(`
      "trainkit-datagen: N: must be an even integer from 16 to 1024, got 15 (from "--n 15" on the command line).
      trainkit-datagen: overlap: must be a fraction in [0, 1) (0 = neighbouring probes just touch), got 2 (from "--overlap 2" on the command line).
      trainkit-datagen: seed: must be an integer from 0 to 2^53 - 1, got -1 (from "--seed=-1" on the command line).
      "
    `);
    expect(existsSync(dir)).toBe(false);
  });

  it("exits 2 with one line when the output folder cannot be created", async () => {
    const blocker = freshPath();
    writeFileSync(blocker, "a file, not a folder");
    const result = await run("--single", join(blocker, "x.npz"), "--n", "16", "--positions", "3");
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^trainkit-datagen: [^\n]*\n$/);
    expect(result.stderr).toMatchInlineSnapshot(`
      "trainkit-datagen: <tmp>/run-7: cannot create the output folder: <tmp>/run-7 is a file, not a directory. Choose another --single path; nothing was written.
      "
    `);
    expect(readdirSync(tmp).filter((name) => name.includes("partial"))).toEqual([]);
  });

  it("refuses --out under /proc at once instead of spinning (recursive mkdir retries there forever)", async () => {
    const started = Date.now();
    const result = await run("--out", "/proc/trainkit-x/y", "--n", "16", "--positions", "3");
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      "trainkit-datagen: /proc/trainkit-x/y: cannot create the output folder: /proc is on a kernel file system (such as /proc) where nothing can be created. Choose another --out path; nothing was written.\n",
    );
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe("trainkit-datagen (the bin)", () => {
  const node = (...args: string[]) =>
    spawnSync(process.execPath, ["--conditions=@trainkit/source", "--import", "tsx", BIN, ...args], {
      cwd: ROOT,
      encoding: "utf8",
    });

  it("runs as a process: writes the files and exits 0, or exits 2 with one line for a bad flag", () => {
    const dir = freshPath();
    const ok = node("--out", dir, "--n", "16", "--positions", "4");
    expect([ok.status, ok.stderr]).toEqual([0, ""]);
    expect(messageOf(ok.stdout, tmp).trimEnd().split("\n")).toEqual([
      expect.stringMatching(/^wrote <tmp>\/run-\d+\/train\.npz: M=3 N=16 nphotons=1000000000 bytes=\d+$/),
      expect.stringMatching(/^wrote <tmp>\/run-\d+\/test\.npz: M=1 N=16 nphotons=1000000000 bytes=\d+$/),
    ]);
    const bad = node("--out", dir, "--positions", "many");
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toMatchInlineSnapshot(`
      "trainkit-datagen: positions: must be a finite number, got "many" (from "--positions many" on the command line).
      "
    `);
  });
});
