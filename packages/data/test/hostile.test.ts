// Hostile input (issue 15): bad values, corrupt and oversized bundles, non-regular files.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { strFromU8, strToU8, unzipSync, zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import {
  assertDataValues,
  type DataError,
  encodeNpy,
  isDataError,
  loadNpz,
  type NdArray,
  readModelBundle,
  saveNpz,
  writeModelBundle,
} from "../src/index.ts";
import { caught, tempDir } from "./helpers.ts";

const tmp = tempDir();
const N = 16;
const M = 4;

function arrays(edit: (a: Record<string, NdArray>) => void = () => {}): Record<string, NdArray> {
  const a: Record<string, NdArray> = {
    diffraction: { dtype: "f4", shape: [M, N, N], data: new Float32Array(M * N * N).fill(0.5) },
    probeGuess: { dtype: "c8", shape: [N, N], data: new Float32Array(N * N * 2).fill(1) },
    objectGuess: { dtype: "c8", shape: [N * 2, N * 2], data: new Float32Array(N * N * 8).fill(1) },
    xcoords: { dtype: "f8", shape: [M], data: Float64Array.from({ length: M }, (_, i) => 10 + i) },
    ycoords: { dtype: "f8", shape: [M], data: Float64Array.from({ length: M }, (_, i) => 10 + i) },
    Y: { dtype: "c8", shape: [M, N, N], data: new Float32Array(M * N * N * 2).fill(1) },
  };
  edit(a);
  return a;
}

async function valuesError(name: string, edit: (a: Record<string, NdArray>) => void, metadata?: unknown) {
  const file = join(tmp, `${name}.npz`);
  await saveNpz(file, arrays(edit), metadata === undefined ? {} : { metadata });
  return (await caught(() => assertDataValues(file, { purpose: "train" }))) as DataError;
}

describe("assertDataValues", () => {
  it("accepts clean data", async () => {
    const file = join(tmp, "clean.npz");
    await saveNpz(file, arrays());
    await expect(assertDataValues(file, { purpose: "train" })).resolves.toBeDefined();
  });

  it("refuses NaN, infinite and negative amplitudes naming file, array and first bad index", async () => {
    const nan = await valuesError("nan", (a) => {
      (a.diffraction!.data as Float32Array)[N * N + 3] = Number.NaN;
    });
    expect(isDataError(nan, "CONTRACT_VIOLATION")).toBe(true);
    expect(nan.key).toBe("diffraction");
    expect(nan.message).toContain(join(tmp, "nan.npz"));
    expect(nan.message).toContain("diffraction has 1 NaN or infinite values, the first at index [1, 0, 3]");
    const inf = await valuesError("inf", (a) => {
      (a.diffraction!.data as Float32Array)[7] = Number.POSITIVE_INFINITY;
    });
    expect(inf.message).toContain("first at index [0, 0, 7] (Infinity)");
    const negative = await valuesError("negative", (a) => {
      (a.diffraction!.data as Float32Array)[N + 2] = -1;
    });
    expect(negative.message).toContain("diffraction has 1 negative values, the first at index [0, 1, 2]");
  });

  it("refuses NaN in probeGuess, objectGuess and Y", async () => {
    for (const key of ["probeGuess", "objectGuess", "Y"]) {
      const error = await valuesError(`nan-${key}`, (a) => {
        (a[key]!.data as Float32Array)[3] = Number.NaN;
      });
      expect(error.key).toBe(key);
      expect(error.message).toContain(`${key} has 1 NaN or infinite values, the first at index`);
      expect(error.message).toContain("(imaginary part)");
    }
  });

  it("reads only the header of a member the contract does not need (a zip bomb beside the arrays)", async () => {
    const clean = join(tmp, "bomb-src.npz");
    await saveNpz(clean, arrays());
    const files = unzipSync(readFileSync(clean));
    // 64 MiB of zeros under a valid .npy header, deflated to about 64 KiB
    const junk = encodeNpy({ dtype: "f4", shape: [16 * 2 ** 20], data: new Float32Array(16 * 2 ** 20) });
    const bytes = Buffer.from(zipSync({ ...files, "junk.npy": [junk, { level: 9 }] }));
    // Damage the middle of its deflate stream: inflating the member past its header would fail.
    const dataStart = bytes.indexOf(Buffer.from("junk.npy")) + "junk.npy".length;
    const dataEnd = bytes.indexOf(Buffer.from([0x50, 0x4b]), dataStart + 1000);
    expect(dataEnd - dataStart).toBeGreaterThan(10_000);
    const middle = Math.floor((dataStart + dataEnd) / 2);
    bytes[middle] = bytes[middle]! ^ 0xff;
    const bomb = join(tmp, "npz-bomb.npz");
    writeFileSync(bomb, bytes);
    await expect(loadNpz(bomb)).rejects.toThrow("junk"); // reading everything finds the damage
    const report = await assertDataValues(bomb, { purpose: "train" });
    expect(report.errors).toEqual([]);
  });

  it("checks a test file's _metadata: bad JSON and negative nphotons", async () => {
    const file = join(tmp, "bad-json-meta.npz");
    await saveNpz(file, { ...arrays(), _metadata: { dtype: "U", shape: [], data: ["{not json"] } });
    const badJson = (await caught(() => assertDataValues(file, { purpose: "test" }))) as DataError;
    expect(isDataError(badJson, "CONTRACT_VIOLATION")).toBe(true);
    expect(badJson.message).toContain("_metadata");
    const negative = await valuesError("neg-nphotons", () => {}, { physics_parameters: { nphotons: -5 } });
    expect(negative.message).toContain("nphotons");
  });
});

async function bundle(name: string, weights: Uint8Array = new Uint8Array(4096).fill(7)): Promise<string> {
  const path = join(tmp, `${name}.zip`);
  await writeModelBundle(path, {
    backend: "embedded",
    packages: {},
    payload: { kind: "training", config: { model: {} } },
    legacyParams: {},
    weights: { "weights.bin": weights },
  });
  return path;
}

/** Rewrites members of a zip (CRC-32s recomputed by the writer). */
function rezip(path: string, out: string, edit: (files: Record<string, Uint8Array>) => void): string {
  const files = unzipSync(readFileSync(path));
  edit(files);
  writeFileSync(out, zipSync(files, { level: 1 }));
  return out;
}

describe("readModelBundle", () => {
  it("records a SHA-256 and size of each weight file in the manifest", async () => {
    const read = await readModelBundle(await bundle("ok"), { weights: true });
    expect(read.manifest.formatVersion).toBe(2);
    expect(read.manifest.weightDigests?.["weights/weights.bin"]?.bytes).toBe(4096);
    expect(read.manifest.weightDigests?.["weights/weights.bin"]?.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("refuses weights whose bytes were flipped but whose CRC-32 is stale", async () => {
    const path = join(tmp, "flipped.zip");
    writeFileSync(path, zipSync(unzipSync(readFileSync(await bundle("src-flip"))), { level: 0 }));
    const bytes = readFileSync(path);
    const at = bytes.indexOf(Buffer.from(new Uint8Array(64).fill(7)));
    bytes[at + 10] = 8; // stored member: the data changes, the CRC in the headers does not
    writeFileSync(path, bytes);
    const error = (await caught(() => readModelBundle(path, { weights: true }))) as DataError;
    expect(isDataError(error, "BAD_BUNDLE")).toBe(true);
    expect(error.message).toContain("CRC-32");
  });

  it("refuses weights changed with a fresh CRC-32 but a stale SHA-256", async () => {
    const path = rezip(await bundle("src-sha"), join(tmp, "sha.zip"), (files) => {
      files["weights/weights.bin"] = new Uint8Array(4096).fill(9);
    });
    const error = (await caught(() => readModelBundle(path, { weights: true }))) as DataError;
    expect(isDataError(error, "BAD_BUNDLE")).toBe(true);
    expect(error.message).toContain("SHA-256 of weights/weights.bin does not match");
  });

  it("never inflates a member it does not need (an unused zip bomb with invalid deflate data)", async () => {
    const path = rezip(await bundle("src-bomb"), join(tmp, "bomb.zip"), (files) => {
      files["junk.bin"] = new Uint8Array(8 * 1024 * 1024);
    });
    // Damage the junk member's deflate stream (reserved block type): reading it would throw.
    const bytes = readFileSync(path);
    bytes[bytes.indexOf(Buffer.from("junk.bin")) + "junk.bin".length] = 0xff;
    writeFileSync(path, bytes);
    const read = await readModelBundle(path, { weights: true });
    expect(read.weights.size).toBe(1);
  });

  it("refuses a manifest.json that inflates past the limit before inflating it", async () => {
    const path = rezip(await bundle("src-big"), join(tmp, "big-manifest.zip"), (files) => {
      const manifest = strFromU8(files["manifest.json"]!);
      files["manifest.json"] = strToU8(manifest + " ".repeat(20 * 1024 * 1024));
    });
    const error = await caught(() => readModelBundle(path));
    expect(isDataError(error, "TOO_LARGE")).toBe(true);
    expect((error as Error).message).toContain("manifest.json claims 20");
  });

  it("refuses a payload.json nested thousands of levels deep without a stack overflow", async () => {
    const path = rezip(await bundle("src-deep"), join(tmp, "deep.zip"), (files) => {
      files["payload.json"] = strToU8(`${"[".repeat(5000)}${"]".repeat(5000)}`);
    });
    const error = await caught(() => readModelBundle(path));
    expect(isDataError(error, "BAD_BUNDLE")).toBe(true);
    expect((error as Error).message).toContain("nests deeper than 64 levels");
  });

  it("refuses devices and FIFOs without reading them", async () => {
    expect(isDataError(await caught(() => readModelBundle("/dev/zero")), "NOT_A_FILE")).toBe(true);
    const fifo = join(tmp, "x.npz");
    execFileSync("mkfifo", [fifo]);
    const started = Date.now();
    const error = await caught(() => loadNpz(fifo));
    expect(isDataError(error, "NOT_A_FILE")).toBe(true);
    expect((error as Error).message).toContain("FIFO");
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
