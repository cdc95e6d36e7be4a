import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeSimulatedDataset } from "@trainkit/simulator";
import { beforeAll, describe, expect, it } from "vitest";
import { main } from "../src/cli.ts";

let dir: string;
let spec: string;

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t), env: {}, isTTY: false },
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "trainkit-study-cli-"));
  for (const dose of ["1e4", "1e6"]) {
    await writeSimulatedDataset({
      trainOut: join(dir, `train_${dose}.npz`),
      testOut: join(dir, `test_${dose}.npz`),
      testCount: 8,
      positions: 32,
      nphotons: Number(dose),
    });
  }
  spec = join(dir, "dose.yaml");
  writeFileSync(
    spec,
    `name: dose
outputDir: ${join(dir, "runs/dose")}
base:
  training:
    trainDataFile: ${dir}/train_{training.nphotons}.npz
    testDataFile: ${dir}/test_{training.nphotons}.npz
    nGroups: 16
matrix:
  training.nphotons: [1e4, 1e6]
  loss:
    nll: { training: { nllWeight: 1, maeWeight: 0 } }
    mae: { training: { nllWeight: 0, maeWeight: 1 } }
`,
  );
});

describe("trainkit-study run", () => {
  it("--list prints every job with its varying values and whether each global option is honoured", async () => {
    const c = capture();
    expect(await main(["run", spec, "--list", "--nepochs", "3"], c.io)).toBe(0);
    const text = c.out.join("");
    expect(text).toMatch(/^index\s+label\s+training\.nphotons\s+loss\s+backend\s+training\.nepochs/);
    expect(text).toContain("nphotons=1e6,loss=mae");
    expect(text).toContain("4 of 4 job(s); global options: training.nepochs");
    expect(text.match(/honoured/g)).toHaveLength(4);
    expect(existsSync(join(dir, "runs"))).toBe(false);
  });

  it("--dry-run with --where resolves and checks the selected jobs and writes nothing", async () => {
    const c = capture();
    expect(await main(["run", spec, "--dry-run", "--where", "training.nphotons=1e4"], c.io)).toBe(0);
    expect(c.out.join("")).toContain("Dry run: 2 of 4 job(s) of study dose resolved and checked");
    expect(existsSync(join(dir, "runs"))).toBe(false);
  });

  it("a selection that matches nothing lists the values there are", async () => {
    const c = capture();
    expect(await main(["run", spec, "--list", "--where", "training.nphotons=1e5"], c.io)).toBe(2);
    expect(c.err.join("")).toContain("training.nphotons: the jobs have 10000, 1000000");
  });

  it("a global option that sets a varied path is an error naming both", async () => {
    const c = capture();
    expect(await main(["run", spec, "--list", "--nphotons", "1e9"], c.io)).toBe(2);
    expect(c.err.join("")).toContain(
      '"--nphotons 1e9" sets training.nphotons, which the study varies through matrix axis training.nphotons',
    );
  });

  it("accepts the orchestrator command line users know, and hints at stray words", async () => {
    const c = capture();
    expect(
      await main(
        ["run", spec, "--list", "--parallel", "--max-workers", "6", "--epochs", "50", "--batch", "128"],
        c.io,
      ),
    ).toBe(0);
    const stray = capture();
    expect(await main(["run", spec, "--list", "batch", "128"], stray.io)).toBe(2);
    expect(stray.err.join("")).toContain('unexpected argument "batch". Did you mean --batch 128?');
    const study = capture();
    expect(await main(["run", spec, "max-workers", "2"], study.io)).toBe(2);
    expect(study.err.join("")).toContain("Did you mean --max-workers 2?");
  });

  it("--explain says which study axis set a value, with its file:line:column", async () => {
    const c = capture();
    expect(
      await main(["run", spec, "--explain", "training.nphotons", "--where", "training.nphotons=1e6"], c.io),
    ).toBe(0);
    const text = c.out.join("");
    expect(text).toContain("# job 2 nphotons=1e6,loss=nll\ntraining.nphotons = 1000000\n");
    expect(text).toContain(`from     override  study axis training.nphotons (${spec}:9:28)`);
    expect(text).toContain("shadows  default   the default: 1000000000");
  });

  it("bad input exits 2 with a coded message and writes nothing", async () => {
    for (const [text, expected] of [
      [
        "name: x\noutputDir: o\nmatrix:\n  training.nphoton: [1]\n",
        'matrix.training.nphoton: "training.nphoton" is not a training payload setting. Did you mean "training.nphotons"?',
      ],
      ["name: x\noutputDir: o\nmatrix:\n  training.nphotons: []\n", "matrix.training.nphotons"],
      ["name: x\noutputDir: o\nmatrx: {}\n", 'unknown key "matrx". Did you mean "matrix"?'],
      ["name: x\noutputDir: o\nrepeats: two\n", "repeats"],
      ["name: x\n  outputDir: : o\n", "Study spec"],
    ] as const) {
      const file = join(dir, "bad.yaml");
      writeFileSync(file, text);
      const c = capture();
      expect(await main(["run", file, "--dry-run"], c.io)).toBe(2);
      expect(c.err.join("")).toContain(expected);
      expect(c.err.join("")).not.toContain("    at ");
    }
    expect(readdirSync(dir).filter((f) => f === "o")).toEqual([]);
  });
});
