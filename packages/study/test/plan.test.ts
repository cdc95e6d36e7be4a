import { join } from "node:path";
import { describeOrigin } from "@trainkit/factory";
import { beforeAll, describe, expect, it } from "vitest";
import { isStudyError } from "../src/errors.ts";
import { planStudy } from "../src/plan.ts";
import { loadStudySpec, parseStudySpec } from "../src/spec.ts";
import { tempDir, writeDoseData, writeText } from "./helpers.ts";

let dir: string;
const DOSE = (outputDir: string) => `name: dose
outputDir: ${outputDir}
base:
  training:
    trainDataFile: DIR/data/dose_{training.nphotons}/train.npz
    testDataFile: DIR/data/dose_{training.nphotons}/test.npz
    nGroups: 16
    nepochs: 1
  model:
    nFiltersScale: 1
matrix:
  training.nphotons: [1e4, 1e6, 1e9]
  loss:
    nll: { training: { nllWeight: 1, maeWeight: 0 } }
    mae: { training: { nllWeight: 0, maeWeight: 1 } }
repeats: 2
`;

beforeAll(async () => {
  dir = tempDir();
  await writeDoseData(dir, ["1e4", "1e6", "1e9"]);
});

async function plan(text: string, options = {}) {
  const file = writeText(
    dir,
    `spec-${Math.random().toString(36).slice(2)}.yaml`,
    text.replaceAll("DIR", dir),
  );
  return planStudy(await loadStudySpec(file), options);
}

describe("planStudy", () => {
  it("plans the matrix in order (last axis fastest) with repeats, labels and study origins", async () => {
    const p = await plan(DOSE(join(dir, "runs/dose")));
    expect(p.jobs).toHaveLength(12);
    expect(p.jobs.map((j) => j.label).slice(0, 4)).toEqual([
      "nphotons=1e4,loss=nll,rep=1",
      "nphotons=1e4,loss=nll,rep=2",
      "nphotons=1e4,loss=mae,rep=1",
      "nphotons=1e4,loss=mae,rep=2",
    ]);
    const job = p.jobs[2]!;
    expect(job.dir).toBe(join(dir, "runs/dose/jobs/0002-nphotons=1e4,loss=mae,rep=1"));
    expect(job.payload.config.training.nphotons).toBe(1e4);
    expect(job.payload.config.training.maeWeight).toBe(1);
    expect(job.payload.config.training.trainDataFile).toBe(join(dir, "data/dose_1e4/train.npz"));
    const nphotons = job.payload.audit.find((a) => a.path === "training.nphotons")!;
    expect(nphotons.level).toBe("override");
    expect(describeOrigin(nphotons.origin)).toMatch(/^study axis training\.nphotons \(.*\.yaml:12:23\)$/);
    const seeds = p.jobs.slice(0, 2).map((j) => j.payload.config.execution.seed);
    expect(seeds).toEqual([0, 1]);
    expect(new Set(p.jobs.map((j) => j.sha256)).size).toBe(12);
  });

  it("refuses a template that names no axis, listing the axes", async () => {
    const error = await plan(
      DOSE(join(dir, "runs/x")).replace("dose_{training.nphotons}/train", "dose_{nphoton}/train"),
    ).catch((e) => e);
    expect(isStudyError(error, "TEMPLATE_UNKNOWN")).toBe(true);
    expect(error.message).toContain("{nphoton}");
  });

  it("lists every missing data file before anything runs", async () => {
    const error = await plan(DOSE(join(dir, "runs/y")).replace("[1e4, 1e6, 1e9]", "[1e4, 1e5, 1e7]")).catch(
      (e) => e,
    );
    expect(isStudyError(error, "DATA_MISSING")).toBe(true);
    expect(error.message).toContain("dose_1e5/train.npz");
    expect(error.message).toContain("dose_1e7/train.npz");
  });

  it("reports an unknown key with file:line:column and a suggestion", async () => {
    const error = await parseStudySpec("name: a\noutputDir: x\nrepeat: 2\n", "s.yaml").catch((e) => e);
    expect(error.message).toBe(
      'Study spec s.yaml:3:1: repeat: unknown key "repeat". Did you mean "repeats"?',
    );
  });
});
