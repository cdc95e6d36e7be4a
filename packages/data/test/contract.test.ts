import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  assertDataContract,
  type ContractOptions,
  type ContractReport,
  checkDataContract,
  loadNpz,
  type NdArray,
  readNpzHeaders,
  saveNpz,
} from "../src/index.ts";
import { caught, codeOf, fixture, messageOf, tempDir } from "./helpers.ts";

const tmp = tempDir();
const TRAIN: ContractOptions = { purpose: "train" };
let counter = 0;

function summary(report: ContractReport): { errors: string[]; warnings: string[] } {
  return {
    errors: report.errors.map((f) => `${f.code} ${f.key}`),
    warnings: report.warnings.map((f) => `${f.code} ${f.key}`),
  };
}

/** The valid M=8, N=16 fixture with some arrays replaced (undefined removes one), saved to a real file. */
async function variant(changes: Record<string, NdArray | undefined>): Promise<string> {
  const arrays = new Map((await loadNpz(fixture("contract_valid.npz"))).arrays);
  for (const [key, array] of Object.entries(changes)) {
    if (array === undefined) arrays.delete(key);
    else arrays.set(key, array);
  }
  const file = join(tmp, `variant-${counter++}.npz`);
  await saveNpz(file, arrays);
  return file;
}

async function headersReport(file: string, options: ContractOptions = TRAIN) {
  return summary(checkDataContract(await readNpzHeaders(file), options));
}

async function loadedReport(file: string, options: ContractOptions = TRAIN) {
  return summary(checkDataContract(await loadNpz(file), options));
}

const f4 = (shape: number[], fill = 0.5): NdArray => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: "f4", shape, data: new Float32Array(n).fill(fill) };
};
const c8 = (shape: number[]): NdArray => ({
  dtype: "c8",
  shape,
  data: new Float32Array(2 * shape.reduce((a, b) => a * b, 1)),
});

describe("checkDataContract", () => {
  it("finds nothing wrong with a valid numpy-written file, from headers or loaded arrays", async () => {
    const clean = { errors: [], warnings: [] };
    expect(await headersReport(fixture("contract_valid.npz"))).toEqual(clean);
    expect(await loadedReport(fixture("contract_valid.npz"))).toEqual(clean);
    expect(await loadedReport(fixture("contract_valid_stored.npz"), { purpose: "test" })).toEqual(clean);
  });

  it("takes N from probeGuess instead of assuming 64", async () => {
    // contract_valid is N=16, contract_supervised N=8; both pass.
    const options: ContractOptions = { purpose: "train", modelType: "supervised" };
    expect(await headersReport(fixture("contract_supervised.npz"), options)).toEqual({
      errors: [],
      warnings: [],
    });
  });

  it("requires Y for supervised training only", async () => {
    const valid = fixture("contract_valid.npz");
    expect((await headersReport(valid, { purpose: "train", modelType: "supervised" })).errors).toEqual([
      "MISSING_KEY Y",
    ]);
    expect((await headersReport(valid, { purpose: "test", modelType: "supervised" })).errors).toEqual([]);
    expect((await headersReport(valid, { purpose: "train", modelType: "pinn" })).errors).toEqual([]);
  });

  it("accepts diff3d as the legacy name of diffraction with a warning", async () => {
    expect(await headersReport(fixture("legacy_diff3d.npz"))).toEqual({
      errors: [],
      warnings: ["LEGACY_KEY diff3d"],
    });
  });

  it("is an error when both diffraction and diff3d exist", async () => {
    expect((await headersReport(fixture("both_names.npz"))).errors).toEqual(["DUPLICATE_KEY diff3d"]);
  });

  it("lists every missing required key when the file has none of them", async () => {
    const file = join(tmp, "empty.npz");
    await saveNpz(file, {});
    expect((await headersReport(file)).errors).toEqual([
      "MISSING_KEY diffraction",
      "MISSING_KEY probeGuess",
      "MISSING_KEY xcoords",
      "MISSING_KEY ycoords",
    ]);
  });

  it("warns for float64 diffraction and complex128 probe, and rejects integer counts", async () => {
    const f8 = await variant({
      diffraction: { dtype: "f8", shape: [8, 16, 16], data: new Float64Array(2048) },
    });
    expect(await headersReport(f8)).toEqual({ errors: [], warnings: ["NONSTANDARD_DTYPE diffraction"] });
    const c16 = await variant({ probeGuess: { dtype: "c16", shape: [16, 16], data: new Float64Array(512) } });
    expect(await headersReport(c16)).toEqual({ errors: [], warnings: ["NONSTANDARD_DTYPE probeGuess"] });
    const counts = await variant({
      diffraction: { dtype: "u2", shape: [8, 16, 16], data: new Uint16Array(2048) },
    });
    expect((await headersReport(counts)).errors).toEqual(["WRONG_DTYPE diffraction"]);
  });

  it("checks the probe is a square complex 2-D array", async () => {
    expect((await headersReport(await variant({ probeGuess: c8([16, 8]) }))).errors).toEqual([
      "NON_SQUARE_PROBE probeGuess",
    ]);
    expect((await headersReport(await variant({ probeGuess: c8([1, 16, 16]) }))).errors).toEqual([
      "WRONG_RANK probeGuess",
    ]);
    expect((await headersReport(await variant({ probeGuess: f4([16, 16]) }))).errors).toEqual([
      "WRONG_DTYPE probeGuess",
    ]);
  });

  it("checks M and N agree across keys", async () => {
    const file = await variant({
      probeGuess: c8([8, 8]),
      ycoords: { dtype: "f8", shape: [7], data: new Float64Array(7) },
      Y: c8([6, 8, 8]),
      objectGuess: c8([32, 32]),
    });
    expect((await headersReport(file)).errors).toEqual([
      "SHAPE_MISMATCH diffraction",
      "SHAPE_MISMATCH ycoords",
      "SHAPE_MISMATCH Y",
    ]);
  });

  it("points at the legacy (N, N, M) layout when patterns are not square", async () => {
    const file = await variant({ diffraction: f4([16, 16, 8]) });
    const report = checkDataContract(await readNpzHeaders(file), { purpose: "train", file: "train.npz" });
    expect(report.errors.map((e) => e.message)).toMatchInlineSnapshot(`
      [
        "train.npz: diffraction has shape (16, 16, 8); each pattern must be square (M, N, N). It looks like the legacy (N, N, M) layout: transpose it to (M, N, N), e.g. np.transpose(a, (2, 0, 1)).",
      ]
    `);
  });

  it("checks coordinates, scan indices and the object", async () => {
    const file = await variant({
      xcoords: { dtype: "f4", shape: [8], data: new Float32Array(8) },
      ycoords: { dtype: "c8", shape: [8], data: new Float32Array(16) },
      scan_index: { dtype: "f8", shape: [8], data: new Float64Array(8) },
      xcoords_start: { dtype: "f8", shape: [8, 1], data: new Float64Array(8) },
      objectGuess: c8([16, 40]),
    });
    expect(await headersReport(file)).toEqual({
      errors: [
        "WRONG_DTYPE ycoords",
        "WRONG_RANK xcoords_start",
        "WRONG_DTYPE scan_index",
        "OBJECT_TOO_SMALL objectGuess",
      ],
      warnings: ["NONSTANDARD_DTYPE xcoords"],
    });
  });

  it("checks amplitude values only when the arrays are loaded", async () => {
    const data = new Float32Array(8 * 16 * 16).fill(0.25);
    data[3] = -1;
    data[4] = Number.NaN;
    data[5] = 12;
    const file = await variant({ diffraction: { dtype: "f4", shape: [8, 16, 16], data } });
    expect(await headersReport(file)).toEqual({ errors: [], warnings: [] });
    expect(await loadedReport(file)).toEqual({
      errors: ["NON_FINITE diffraction", "NEGATIVE_AMPLITUDE diffraction"],
      warnings: ["LARGE_AMPLITUDE diffraction"],
    });
  });

  it("flags NaN in the probe and coordinates when loaded", async () => {
    const x = new Float64Array(8);
    x[2] = Number.POSITIVE_INFINITY;
    const file = await variant({ xcoords: { dtype: "f8", shape: [8], data: x } });
    expect((await loadedReport(file)).errors).toEqual(["NON_FINITE xcoords"]);
  });

  it("never unpickles _metadata: an error naming the re-save command when training needs nphotons, else a warning", async () => {
    const headers = await readNpzHeaders(fixture("pickled.npz"));
    const needed = checkDataContract(headers, { purpose: "train", file: "train.npz" });
    const finding = needed.errors.find((e) => e.key === "_metadata");
    expect(finding?.message).toMatchInlineSnapshot(`
      "train.npz: _metadata is a pickled object (as upstream's MetadataManager writes it), which trainkit never unpickles, so its nphotons cannot be read; pass --nphotons N, or re-save it as a JSON string with numpy (import json, numpy as np):
      d = dict(np.load("train.npz", allow_pickle=True)); m = d["_metadata"].item()
      np.savez("train.npz", **{**d, "_metadata": np.array(m if isinstance(m, str) else json.dumps(m))})"
    `);
    const given = checkDataContract(headers, { purpose: "train", file: "train.npz", nphotonsGiven: true });
    expect(given.errors.filter((e) => e.key === "_metadata")).toEqual([]);
    expect(given.warnings.map((w) => `${w.code} ${w.key}`)).toContain("PICKLED _metadata");
    const test = checkDataContract(headers, { purpose: "test", file: "test.npz" });
    expect(test.errors.filter((e) => e.key === "_metadata")).toEqual([]);
  });

  it("refuses pickled contract keys and checks metadata when loaded", async () => {
    const pickled = await headersReport(fixture("pickled.npz"));
    expect(pickled.errors).toContain("PICKLED _metadata");
    const notJson = await variant({ _metadata: { dtype: "U", shape: [], data: ["{oops"] } });
    expect((await headersReport(notJson)).errors).toEqual([]);
    expect((await loadedReport(notJson)).errors).toEqual(["BAD_METADATA _metadata"]);
    const numeric = await variant({ _metadata: f4([2]) });
    expect((await headersReport(numeric)).errors).toEqual(["BAD_METADATA _metadata"]);
  });

  it("warns about unreadable and misspelt extra keys", async () => {
    const file = await variant({ probeGuess: undefined, probe_guess: c8([16, 16]) });
    expect(await headersReport(file)).toEqual({
      errors: ["MISSING_KEY probeGuess"],
      warnings: ["SUSPICIOUS_KEY probe_guess"],
    });
    const odd = await headersReport(fixture("unsupported_dtype.npz"));
    expect(odd.warnings).toEqual(["UNSUPPORTED_DTYPE when", "UNSUPPORTED_DTYPE record"]);
  });

  it("words findings as one line naming the file, key and fix", async () => {
    const file = await variant({ diffraction: undefined, diff3d: f4([8, 16, 16]), probeGuess: c8([16, 8]) });
    const report = checkDataContract(await readNpzHeaders(file), { purpose: "train", file: "train.npz" });
    expect([...report.errors, ...report.warnings].map((f) => f.message)).toMatchInlineSnapshot(`
      [
        "train.npz: probeGuess has shape (16, 8); the probe must be square (N x N).",
        "train.npz: diff3d is the legacy name of diffraction; rename the key to diffraction.",
      ]
    `);
  });
});

describe("assertDataContract", () => {
  it("returns the report when there are only warnings", async () => {
    const report = assertDataContract(await readNpzHeaders(fixture("legacy_diff3d.npz")), TRAIN);
    expect(summary(report)).toEqual({ errors: [], warnings: ["LEGACY_KEY diff3d"] });
  });

  it("throws CONTRACT_VIOLATION with every finding when there are errors", async () => {
    const file = await variant({ probeGuess: undefined, xcoords: undefined });
    const error = await caught(async () => assertDataContract(await readNpzHeaders(file), TRAIN));
    expect(codeOf(error)).toBe("CONTRACT_VIOLATION");
    expect(messageOf(error, tmp)).toMatch(
      /^<tmp>\/variant-\d+\.npz: no probeGuess array; add the \(N, N\) complex64 probe as probeGuess\. \(and 1 more: see error\.findings\)$/,
    );
  });
});
