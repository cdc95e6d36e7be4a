import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodeNpy, type NdArray, parseNpy } from "../src/index.ts";
import { caughtSync, codeOf, fixture, HAS_NUMPY, messageOf, python, tempDir } from "./helpers.ts";

const tmp = tempDir();

describe("parseNpy", () => {
  it("reads a .npy file written by np.save", () => {
    expect(parseNpy(readFileSync(fixture("plain.npy")))).toEqual({
      dtype: "f4",
      shape: [3],
      data: Float32Array.of(0, 1, 2),
    });
  });

  it("byte-swaps big-endian data without modifying the input bytes", () => {
    const bytes = readFileSync(fixture("bigendian_f8.npy"));
    const before = Buffer.from(bytes);
    expect(parseNpy(bytes)).toEqual({ dtype: "f8", shape: [2], data: Float64Array.of(1.5, -2) });
    expect(bytes.equals(before)).toBe(true);
  });

  it("throws BAD_HEADER for bytes that are not .npy and TOO_LARGE over maxBytes", () => {
    const notNpy = caughtSync(() => parseNpy(new TextEncoder().encode("hello, world")));
    expect(codeOf(notNpy)).toBe("BAD_HEADER");
    expect(messageOf(notNpy)).toMatchInlineSnapshot(
      `"<npy data>: the .npy header is malformed (it does not start with the .npy magic string \\x93NUMPY); the file is corrupt or was not written by numpy. Re-create it with numpy.savez."`,
    );
    expect(codeOf(caughtSync(() => parseNpy(readFileSync(fixture("plain.npy")), { maxBytes: 11 })))).toBe(
      "TOO_LARGE",
    );
  });

  it("throws BAD_HEADER for an unknown format version", () => {
    const bytes = Buffer.from(readFileSync(fixture("plain.npy")));
    bytes[6] = 9;
    expect(messageOf(caughtSync(() => parseNpy(bytes)))).toMatchInlineSnapshot(
      `"<npy data>: .npy format version 9.0 is not supported (1.0, 2.0 and 3.0 are); re-save the array with numpy."`,
    );
  });
});

describe("encodeNpy", () => {
  it("pads the header so the data starts on a 64-byte boundary", () => {
    const bytes = encodeNpy({ dtype: "c16", shape: [2, 1], data: Float64Array.of(1, 2, 3, 4) });
    const headerLength = 10 + (bytes[8]! | (bytes[9]! << 8));
    expect(headerLength % 64).toBe(0);
    expect(new TextDecoder().decode(bytes.subarray(10, headerLength)).trimEnd()).toBe(
      "{'descr': '<c16', 'fortran_order': False, 'shape': (2, 1), }",
    );
  });

  it.skipIf(!HAS_NUMPY)("writes a file np.load reads (needs python3 with numpy; skipped without it)", () => {
    const array: NdArray = { dtype: "i8", shape: [3], data: BigInt64Array.of(-1n, 0n, 2n ** 62n) };
    const file = join(tmp, "one.npy");
    writeFileSync(file, encodeNpy(array));
    const out = python(
      "a = np.load(sys.argv[1], allow_pickle=False)\nprint(a.dtype.str, a.shape, a.tolist())",
      file,
    );
    expect(out.trim()).toBe(`<i8 (3,) [-1, 0, ${2n ** 62n}]`);
  });

  it("throws INVALID_ARRAY when the data does not match the shape", () => {
    const error = caughtSync(() => encodeNpy({ dtype: "u1", shape: [4], data: new Uint8Array(3) }));
    expect(codeOf(error)).toBe("INVALID_ARRAY");
  });
});
