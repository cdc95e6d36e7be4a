import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  assertDataContract,
  assignSpatialFolds,
  DataError,
  type DataErrorCode,
  inferProbeSize,
  isDataError,
  loadNpz,
  type NdArray,
  readModelBundle,
  readNphotons,
  readNpzHeaders,
  saveNpz,
} from "../src/index.ts";
import { caught, codeOf, FIXTURES, fixture, messageOf, tempDir } from "./helpers.ts";

const tmp = tempDir();

/** One real file (or write) per code. `satisfies` makes a code without a case a type error. */
const CASES = {
  FILE_NOT_FOUND: () => loadNpz(fixture("missing.npz")),
  READ_FAILED: () => loadNpz(FIXTURES),
  NOT_A_FILE: () => loadNpz("/dev/null"),
  WRITE_FAILED: () => saveNpz(join(tmp, "no-such-folder", "x.npz"), {}),
  NOT_A_ZIP: () => loadNpz(fixture("not_a_zip.npz")),
  TRUNCATED: () => loadNpz(fixture("truncated.npz")),
  CORRUPT_ZIP: () => loadNpz(fixture("corrupt_crc.npz")),
  UNSUPPORTED_ZIP: () => loadNpz(fixture("bzip2.npz")),
  BAD_HEADER: () => readNpzHeaders(fixture("bad_header.npz")),
  SIZE_MISMATCH: () => readNpzHeaders(fixture("header_lies.npz")),
  TOO_LARGE: () => loadNpz(fixture("dtypes.npz"), { keys: ["c16"], maxBytes: 64 }),
  UNSUPPORTED_DTYPE: () => loadNpz(fixture("unsupported_dtype.npz"), { keys: ["when"] }),
  PICKLED: () => loadNpz(fixture("pickled.npz")),
  MISSING_KEY: () => loadNpz(fixture("contract_valid.npz"), { keys: ["probeguess"] }),
  INVALID_ARRAY: () =>
    saveNpz(join(tmp, "invalid.npz"), {
      probe: { dtype: "c8", shape: [2, 2], data: new Float64Array(8) } as unknown as NdArray,
    }),
  BAD_METADATA: () => readNphotons(fixture("metadata_bad_nphotons.npz")),
  BAD_SHAPE: () => inferProbeSize(fixture("probe_3d.npz")),
  NON_SQUARE_PROBE: () => inferProbeSize(fixture("nonsquare_probe.npz")),
  CONTRACT_VIOLATION: async () =>
    assertDataContract(await readNpzHeaders(fixture("both_names.npz")), { purpose: "train" }),
  BAD_BUNDLE: () => readModelBundle(fixture("dtypes.npz")),
  INVALID_OPTIONS: async () => assignSpatialFolds([0, 1], [0, 0], 3),
} satisfies Record<DataErrorCode, () => Promise<unknown>>;

describe("DataError", () => {
  for (const [code, run] of Object.entries(CASES)) {
    it(`is thrown with code ${code} by a real file that has that problem`, async () => {
      const error = await caught(run);
      expect(error).toBeInstanceOf(DataError);
      expect(codeOf(error)).toBe(code);
      expect(isDataError(error, code as DataErrorCode)).toBe(true);
    });
  }

  it("has one-line messages that name the file and key and say how to fix it", async () => {
    const messages: Record<string, string> = {};
    for (const [code, run] of Object.entries(CASES)) {
      if (code === "BAD_BUNDLE") continue; // bundle.ts words its own messages
      messages[code] = messageOf(await caught(run), tmp);
    }
    for (const message of Object.values(messages)) expect(message).not.toContain("\n");
    expect(messages).toMatchInlineSnapshot(`
      {
        "BAD_HEADER": "<fixtures>/bad_header.npz: broken: the .npy header is malformed (the header must have exactly the keys descr, fortran_order and shape, got descr,fortran_order); the file is corrupt or was not written by numpy. Re-create it with numpy.savez.",
        "BAD_METADATA": "<fixtures>/metadata_bad_nphotons.npz: _metadata.physics_parameters.nphotons must be a positive finite number, got -5; fix the metadata or set nphotons explicitly.",
        "BAD_SHAPE": "<fixtures>/probe_3d.npz: probeGuess has shape (2, 4, 4); the probe must be a 2-D (N, N) array. Save a single N x N probe, or set N explicitly.",
        "CONTRACT_VIOLATION": "<fixtures>/both_names.npz: both diffraction and its legacy name diff3d are present; keep only diffraction (readers disagree on which one wins).",
        "CORRUPT_ZIP": "<fixtures>/corrupt_crc.npz: the zip archive is damaged (the CRC-32 checksum of diffraction does not match its data); re-create or re-download the file.",
        "FILE_NOT_FOUND": "<fixtures>/missing.npz: file not found; check the path.",
        "INVALID_ARRAY": "<tmp>/invalid.npz: probe: dtype c8 (complex64) needs data as a Float32Array, got Float64Array.",
        "INVALID_OPTIONS": "foldCount 3 exceeds the 2 scan positions: every fold needs at least one.",
        "MISSING_KEY": "<fixtures>/contract_valid.npz: no array named "probeguess"; the file has: diffraction, probeGuess, xcoords, ycoords, objectGuess, scan_index, xcoords_start, ycoords_start, _metadata. Did you mean "probeGuess"?",
        "NON_SQUARE_PROBE": "<fixtures>/nonsquare_probe.npz: probeGuess has shape (64, 32); the probe must be square (N x N).",
        "NOT_A_FILE": "/dev/null: is a device, not an .npz file; trainkit reads only regular files (it would block or read forever).",
        "NOT_A_ZIP": "<fixtures>/not_a_zip.npz: not an .npz file (no zip archive found; an .npz is a zip archive written by numpy.savez or numpy.savez_compressed).",
        "PICKLED": "<fixtures>/pickled.npz: _metadata is a pickled object array (|O), which is refused because unpickling can run arbitrary code; save the file without pickles (store strings as str, e.g. np.savez(path, _metadata=json.dumps(meta)), and numbers as numeric arrays).",
        "READ_FAILED": "<fixtures>: is a directory, not an .npz file; pass the path of the file.",
        "SIZE_MISMATCH": "<fixtures>/header_lies.npz: probeGuess: the .npy header claims shape (64, 64) of <c8 (32768 bytes) but the member holds 2048 bytes of data; the file is corrupt or was written by a broken tool. Re-create it with numpy.savez.",
        "TOO_LARGE": "<fixtures>/dtypes.npz: c16: shape (2, 3) of <c16 needs 96 B in memory, over the 64 B limit; pass a larger maxBytes if the machine has the memory.",
        "TRUNCATED": "<fixtures>/truncated.npz: the file starts like a zip archive but its end (the zip directory) is missing; it is truncated (an interrupted write or download). Re-create or re-download it.",
        "UNSUPPORTED_DTYPE": "<fixtures>/unsupported_dtype.npz: when has dtype datetime64 (<M8[D]), which cannot be read; supported dtypes are bool, (u)int8/16/32/64, float16/32/64, complex64/128, str and bytes. Convert it before saving, e.g. arr.astype(np.float32).",
        "UNSUPPORTED_ZIP": "<fixtures>/bzip2.npz: x is compressed with bzip2; only stored and deflate members are supported (what numpy.savez and numpy.savez_compressed write). Re-save the file with numpy.",
        "WRITE_FAILED": "<tmp>/no-such-folder/x.npz: could not write the file (ENOENT); check that the folder <tmp>/no-such-folder exists and is writable. Nothing was written.",
      }
    `);
  });

  it("carries the file and key it is about", async () => {
    const error = (await caught(CASES.SIZE_MISMATCH)) as DataError;
    expect([error.file, error.key]).toEqual([fixture("header_lies.npz"), "probeGuess"]);
    const missing = (await caught(CASES.FILE_NOT_FOUND)) as DataError;
    expect([missing.file, missing.key]).toEqual([fixture("missing.npz"), undefined]);
  });

  it("forwards the underlying error as cause", async () => {
    const missing = (await caught(CASES.FILE_NOT_FOUND)) as DataError;
    expect((missing.cause as NodeJS.ErrnoException).code).toBe("ENOENT");
    const metadata = (await caught(() => readNphotons(fixture("metadata_invalid.npz")))) as DataError;
    expect(metadata.cause).toBeInstanceOf(SyntaxError);
  });

  it("lists every contract finding on a CONTRACT_VIOLATION", async () => {
    const error = (await caught(CASES.CONTRACT_VIOLATION)) as DataError;
    expect(error.findings.map((f) => `${f.code} ${f.key}`)).toEqual(["DUPLICATE_KEY diff3d"]);
  });
});

describe("isDataError", () => {
  it("is true for a DataError and false for other errors and values", async () => {
    const error = await caught(CASES.NOT_A_ZIP);
    expect(isDataError(error)).toBe(true);
    expect(isDataError(error, "NOT_A_ZIP")).toBe(true);
    expect(isDataError(error, "TRUNCATED")).toBe(false);
    expect(isDataError(new Error("x"))).toBe(false);
    expect(isDataError({ name: "DataError", code: "NOT_A_ZIP" })).toBe(false);
    expect(isDataError(undefined)).toBe(false);
  });

  it("recognises a DataError from another copy of the package by name and code", () => {
    const foreign = Object.assign(new Error("x"), { name: "DataError", code: "PICKLED" });
    expect(isDataError(foreign, "PICKLED")).toBe(true);
  });
});

describe("loadNpz", () => {
  it("says a single .npy file is not an .npz", async () => {
    expect(messageOf(await caught(() => loadNpz(fixture("plain.npy"))))).toMatchInlineSnapshot(
      `"<fixtures>/plain.npy: not an .npz file (no zip archive found; it is a single-array .npy file; save it with numpy.savez to get an .npz)."`,
    );
  });

  it("says an empty file is empty", async () => {
    const file = join(tmp, "empty.npz");
    writeFileSync(file, "");
    expect(messageOf(await caught(() => loadNpz(file)), tmp)).toMatchInlineSnapshot(
      `"<tmp>/empty.npz: not an .npz file (no zip archive found; the file is empty)."`,
    );
  });

  it("throws CORRUPT_ZIP, not a zlib error, when deflated data is damaged", async () => {
    const bytes = readFileSync(fixture("dtypes_compressed.npz"));
    const at = bytes.indexOf("f4.npy") + 40; // inside the f4 member's compressed data
    for (let i = 0; i < 16; i++) bytes[at + i] = 0xff;
    const file = join(tmp, "damaged.npz");
    writeFileSync(file, bytes);
    const error = await caught(() => loadNpz(file, { keys: ["f4"] }));
    expect(codeOf(error)).toBe("CORRUPT_ZIP");
    expect(messageOf(error, tmp)).toMatch(/^<tmp>\/damaged\.npz: the zip archive is damaged \(.*f4.*\)/);
  });

  it("throws SIZE_MISMATCH before allocating when a header lies, for every reader", async () => {
    for (const run of [
      () => loadNpz(fixture("header_lies.npz")),
      () => readNpzHeaders(fixture("header_lies.npz")),
      () => inferProbeSize(fixture("header_lies.npz")),
    ]) {
      expect(codeOf(await caught(run))).toBe("SIZE_MISMATCH");
    }
  });

  it("throws UNSUPPORTED_DTYPE for a structured array", async () => {
    const error = await caught(() => loadNpz(fixture("unsupported_dtype.npz"), { keys: ["record"] }));
    expect(messageOf(error)).toContain("record has a structured (record) dtype, which cannot be read");
  });

  it("throws TOO_LARGE with float16 counted at its 4-byte decoded size", async () => {
    // f2 (2, 3): 12 bytes in the file, 24 once widened to float32.
    await expect(loadNpz(fixture("dtypes.npz"), { keys: ["f2"], maxBytes: 24 })).resolves.toBeDefined();
    expect(codeOf(await caught(() => loadNpz(fixture("dtypes.npz"), { keys: ["f2"], maxBytes: 23 })))).toBe(
      "TOO_LARGE",
    );
  });
});

describe("saveNpz", () => {
  it("throws INVALID_ARRAY for data that does not match the shape, dtype or key", async () => {
    const file = join(tmp, "never.npz");
    const bad: [string, unknown, string | undefined][] = [
      ["x", { dtype: "f4", shape: [2, 2], data: new Float32Array(3) }, undefined],
      ["x", { dtype: "c16", shape: [2], data: new Float64Array(2) }, undefined],
      ["x", { dtype: "f3", shape: [1], data: new Float32Array(1) }, undefined],
      ["x", { dtype: "i4", shape: [-1], data: new Int32Array(0) }, undefined],
      ["x", { dtype: "U", shape: [1], data: [1] }, undefined],
      ["", { dtype: "u1", shape: [0], data: new Uint8Array(0) }, undefined],
      ["_metadata", { dtype: "U", shape: [], data: ["{}"] }, "also"],
    ];
    const messages: string[] = [];
    for (const [key, array, metadata] of bad) {
      const error = await caught(() =>
        saveNpz(file, { [key]: array as NdArray }, metadata === undefined ? {} : { metadata }),
      );
      expect(codeOf(error)).toBe("INVALID_ARRAY");
      messages.push(messageOf(error, tmp));
    }
    expect(messages).toMatchInlineSnapshot(`
      [
        "<tmp>/never.npz: x: shape (2, 2) needs 4 values but data has 3.",
        "<tmp>/never.npz: x: shape (2,) needs 4 values (2 values per complex element, interleaved re, im) but data has 2.",
        "<tmp>/never.npz: x: dtype "f3" is not one of b1, i1, u1, i2, u2, i4, u4, i8, u8, f2, f4, f8, c8, c16, U, S.",
        "<tmp>/never.npz: x: shape must be an array of non-negative integers, got [-1].",
        "<tmp>/never.npz: x: dtype U needs data as an array of strings, got Array.",
        "<tmp>/never.npz: "" is not a usable key; use a non-empty name without NUL characters.",
        "<tmp>/never.npz: _metadata is given twice (as an array and as options.metadata); keep one.",
      ]
    `);
  });

  it("throws INVALID_ARRAY when metadata cannot be written as JSON", async () => {
    const error = await caught(() => saveNpz(join(tmp, "never.npz"), {}, { metadata: { n: 1n } }));
    expect(codeOf(error)).toBe("INVALID_ARRAY");
    expect(messageOf(error, tmp)).toContain("options.metadata cannot be written as JSON");
  });
});
