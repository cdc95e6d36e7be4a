import { describe, expect, it } from "vitest";
import { isStudyError } from "../src/errors.ts";
import { parseStudySpec, specDifferences, studySpecJsonSchema } from "../src/spec.ts";

describe("studySpecJsonSchema", () => {
  it("matches the committed schema/study-spec.schema.json (run pnpm gen after a change)", async () => {
    await expect(`${JSON.stringify(studySpecJsonSchema(), null, 2)}\n`).toMatchFileSnapshot(
      "../schema/study-spec.schema.json",
    );
  });
});

describe("parseStudySpec", () => {
  it("applies defaults and keeps positions of nested values", async () => {
    const loaded = await parseStudySpec(
      "name: a\noutputDir: out\nmatrix:\n  training.nphotons: [1e4, 1e6]\n",
      "a.yaml",
    );
    expect(loaded.spec.repeats).toBe(1);
    expect(loaded.spec.steps).toEqual(["train"]);
    expect(loaded.at(["matrix", "training.nphotons", 1])).toEqual({ line: 4, column: 28 });
    expect(loaded.sourceText(["matrix", "training.nphotons", 0])).toBe("1e4");
  });

  it("says where each problem is, every one of them", async () => {
    const error = await parseStudySpec(
      "name: a b\noutputDir: out\nsteps: [infer]\nbudget:\n  jobTimeout: soon\n",
      "b.yaml",
    ).catch((e) => e);
    expect(isStudyError(error, "SPEC_INVALID")).toBe(true);
    expect(error.message).toContain("b.yaml:1:7: name: must be a name");
    expect(error.message).toContain("b.yaml:3:8: steps: must start with train");
    expect(error.message).toContain(
      'b.yaml:5:15: budget.jobTimeout: must be a duration such as 90, 30m or 2h, got "soon"',
    );
  });

  it("rejects an axis named like a results column", async () => {
    const error = await parseStudySpec(
      "name: a\noutputDir: out\nmatrix:\n  status: { a: { training: { nepochs: 1 } } }\n",
      "c.yaml",
    ).catch((e) => e);
    expect(error.message).toContain('c.yaml:4:3: matrix.status: "status" is a column of the results');
  });

  it("refuses malformed YAML with its position", async () => {
    const error = await parseStudySpec("name: [a\n", "d.yaml").catch((e) => e);
    expect(isStudyError(error, "SPEC_MALFORMED")).toBe(true);
    expect(error.message).toMatch(/^Study spec d\.yaml:\d+:\d+: /);
  });
});

describe("specDifferences", () => {
  it("names the paths that changed", () => {
    expect(specDifferences({ a: 1, b: { c: [1, 2] } }, { a: 1, b: { c: [1, 3] }, d: 0 })).toEqual([
      "b.c",
      "d",
    ]);
  });
});
