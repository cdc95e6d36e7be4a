import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodeNpy, loadNpz, type NdArray, readMetadata, readNpzHeaders, saveNpz } from "../src/index.ts";
import { closeZip, openZip, readMember, readMemberPrefix, verifyMember } from "../src/internal/zip-read.ts";
import { writeZipAtomic } from "../src/internal/zip-write.ts";
import {
  caught,
  codeOf,
  fixture,
  HAS_NUMPY,
  messageOf,
  numpyView,
  ourView,
  python,
  tempDir,
} from "./helpers.ts";

const NO_NUMPY = "(needs python3 with numpy; skipped without it)";

/** The values make_fixtures.py writes into dtypes.npz, in C order. */
const DTYPES_EXPECTED: Record<string, NdArray> = {
  b1: { dtype: "b1", shape: [2, 3], data: Uint8Array.of(1, 0, 1, 0, 0, 1) },
  i1: { dtype: "i1", shape: [2, 3], data: Int8Array.of(-120, -80, -40, 0, 40, 80) },
  u1: { dtype: "u1", shape: [2, 3], data: Uint8Array.of(0, 50, 100, 150, 200, 250) },
  i2: { dtype: "i2", shape: [2, 3], data: Int16Array.of(-32768, -1, 0, 1, 2, 32767) },
  u2: { dtype: "u2", shape: [2, 3], data: Uint16Array.of(0, 1, 2, 1000, 40000, 65535) },
  i4: { dtype: "i4", shape: [2, 3], data: Int32Array.of(-2147483648, -1, 0, 1, 123456789, 2147483647) },
  u4: { dtype: "u4", shape: [2, 3], data: Uint32Array.of(0, 1, 2, 3, 3000000000, 4294967295) },
  i8: {
    dtype: "i8",
    shape: [2, 3],
    data: BigInt64Array.of(-(2n ** 63n), -1n, 0n, 1n, 2n ** 53n + 1n, 2n ** 63n - 1n),
  },
  u8: { dtype: "u8", shape: [2, 3], data: BigUint64Array.of(0n, 1n, 2n, 3n, 2n ** 53n + 1n, 2n ** 64n - 1n) },
  f2: {
    dtype: "f2",
    shape: [2, 3],
    data: Float32Array.of(0.5, -2, 65504, 2 ** -24, Number.POSITIVE_INFINITY, -0),
  },
  f4: { dtype: "f4", shape: [2, 3], data: Float32Array.of(-0.5, -0.25, 0, 0.25, 0.5, 0.75) },
  f8: {
    dtype: "f8",
    shape: [2, 3],
    data: Float64Array.of(0.1, -1e300, 5e-324, Math.PI, Number.NEGATIVE_INFINITY, 2 ** 60),
  },
  c8: {
    dtype: "c8",
    shape: [2, 3],
    data: Float32Array.of(0, -2.5, 1, -1.5, 2, -0.5, 3, 0.5, 4, 1.5, 5, 2.5),
  },
  c16: {
    dtype: "c16",
    shape: [2, 3],
    data: Float64Array.from([0, 1, 2, 3, 4, 5].flatMap((i) => [i * 0.1, 0 - i * 1e10])),
  },
  U: { dtype: "U", shape: [2, 3], data: ["a", "héllo", "", "日本", "😀x", "tab\tend"] },
  S: { dtype: "S", shape: [2, 3], data: ["a", "bytes", "", "x", "yz", "0"] },
};

describe("loadNpz", () => {
  it("reads every dtype exactly when numpy stored the members (np.savez)", async () => {
    const npz = await loadNpz(fixture("dtypes.npz"));
    expect(Object.fromEntries(npz.arrays)).toEqual(DTYPES_EXPECTED);
    expect([...npz.arrays.keys()]).toEqual(Object.keys(DTYPES_EXPECTED));
  });

  it("reads every dtype exactly when numpy deflated the members (np.savez_compressed)", async () => {
    const npz = await loadNpz(fixture("dtypes_compressed.npz"));
    expect(Object.fromEntries(npz.arrays)).toEqual(DTYPES_EXPECTED);
  });

  it("byte-swaps big-endian arrays into native values", async () => {
    const npz = await loadNpz(fixture("bigendian.npz"));
    expect(Object.fromEntries(npz.arrays)).toEqual({
      f4: { dtype: "f4", shape: [3], data: Float32Array.of(1.5, -2.25, 3) },
      i8: { dtype: "i8", shape: [3], data: BigInt64Array.of(-(2n ** 63n), 1n, 2n ** 62n + 3n) },
      u2: { dtype: "u2", shape: [3], data: Uint16Array.of(1, 256, 65535) },
      f2: { dtype: "f2", shape: [3], data: Float32Array.of(0.5, -1, 1024) },
      c16: { dtype: "c16", shape: [2], data: Float64Array.of(1, 2, -3.5, -0.25) },
      U: { dtype: "U", shape: [2], data: ["big", "endiän"] },
    });
  });

  it("converts Fortran-order arrays to C order", async () => {
    const npz = await loadNpz(fixture("fortran.npz"));
    expect(Object.fromEntries(npz.arrays)).toEqual({
      f4_2d: { dtype: "f4", shape: [2, 3], data: Float32Array.of(0, 1, 2, 3, 4, 5) },
      i4_3d: { dtype: "i4", shape: [2, 3, 4], data: Int32Array.from({ length: 24 }, (_, i) => i) },
      c8_2d: { dtype: "c8", shape: [3, 2], data: Float32Array.of(0, 0, 1, 10, 2, 20, 3, 30, 4, 40, 5, 50) },
      U_2d: { dtype: "U", shape: [2, 3], data: ["a", "b", "c", "d", "e", "f"] },
      f2_2d: { dtype: "f2", shape: [3, 2], data: Float32Array.of(0, 1, 2, 3, 4, 5) },
    });
  });

  it("reads 0-d scalars with shape [] and empty arrays with a zero dimension", async () => {
    const npz = await loadNpz(fixture("scalars.npz"));
    expect(Object.fromEntries(npz.arrays)).toEqual({
      f8: { dtype: "f8", shape: [], data: Float64Array.of(2.5) },
      i4: { dtype: "i4", shape: [], data: Int32Array.of(-7) },
      b1: { dtype: "b1", shape: [], data: Uint8Array.of(1) },
      c8: { dtype: "c8", shape: [], data: Float32Array.of(1, -2) },
      U: { dtype: "U", shape: [], data: ["scalar text"] },
      empty: { dtype: "f4", shape: [0, 3], data: new Float32Array(0) },
    });
  });

  it("reads .npy format versions 1.0, 2.0 and 3.0", async () => {
    const npz = await loadNpz(fixture("versions.npz"));
    const expected = { dtype: "f8", shape: [2, 2], data: Float64Array.of(0, 0.25, 0.5, 0.75) };
    expect(Object.fromEntries(npz.arrays)).toEqual({ v1: expected, v2: expected, v3: expected });
    const headers = await readNpzHeaders(fixture("versions.npz"));
    expect([...headers.headers.values()].map((h) => h.version)).toEqual(["1.0", "2.0", "3.0"]);
  });

  it("decodes only the requested keys, in the requested order, when keys are given", async () => {
    // corrupt_crc.npz has a damaged diffraction member: asking for other keys never touches it.
    const npz = await loadNpz(fixture("corrupt_crc.npz"), { keys: ["ycoords", "probeGuess"] });
    expect([...npz.arrays.keys()]).toEqual(["ycoords", "probeGuess"]);
    expect(npz.arrays.get("probeGuess")?.shape).toEqual([8, 8]);
    expect(codeOf(await caught(() => loadNpz(fixture("corrupt_crc.npz"))))).toBe("CORRUPT_ZIP");
  });

  it("keeps the path as given in npz.file", async () => {
    const npz = await loadNpz(fixture("scalars.npz"), { keys: ["f8"] });
    expect(npz.file).toBe(fixture("scalars.npz"));
  });
});

describe("readNpzHeaders", () => {
  it("returns shapes, dtypes and storage facts for every member", async () => {
    const { file, headers } = await readNpzHeaders(fixture("contract_valid.npz"));
    expect(file).toBe(fixture("contract_valid.npz"));
    expect(
      [...headers.values()].map(
        (h) => `${h.key} ${h.descr} ${JSON.stringify(h.shape)} ${h.dataBytes} ${h.compressed}`,
      ),
    ).toMatchInlineSnapshot(`
      [
        "diffraction <f4 [8,16,16] 8192 true",
        "probeGuess <c8 [16,16] 2048 true",
        "xcoords <f8 [8] 64 true",
        "ycoords <f8 [8] 64 true",
        "objectGuess <c8 [32,32] 8192 true",
        "scan_index <i8 [8] 64 true",
        "xcoords_start <f8 [8] 64 true",
        "ycoords_start <f8 [8] 64 true",
        "_metadata <U92 [] 368 true",
      ]
    `);
  });

  it("reports Fortran order and stored members as they are in the file", async () => {
    const { headers } = await readNpzHeaders(fixture("fortran.npz"));
    const h = headers.get("i4_3d");
    expect(h).toEqual({
      key: "i4_3d",
      dtype: "i4",
      descr: "<i4",
      shape: [2, 3, 4],
      fortranOrder: true,
      version: "1.0",
      dataBytes: 96,
      compressed: false,
    });
  });

  it("lists pickled and unsupported members with dtype null instead of throwing", async () => {
    const pickled = await readNpzHeaders(fixture("pickled.npz"));
    expect(pickled.headers.get("_metadata")).toMatchObject({ dtype: null, descr: "|O", shape: [] });
    const odd = await readNpzHeaders(fixture("unsupported_dtype.npz"));
    expect([...odd.headers.values()].map((h) => [h.key, h.dtype, h.descr])).toEqual([
      ["when", null, "<M8[D]"],
      ["record", null, "<structured>"],
      ["fine", "i4", "<i4"],
    ]);
  });

  it("reads no array data, so a member with damaged data still has a header", async () => {
    const { headers } = await readNpzHeaders(fixture("corrupt_crc.npz"));
    expect(headers.get("diffraction")?.shape).toEqual([4, 8, 8]);
  });

  it("reads only the requested keys when keys are given", async () => {
    const { headers } = await readNpzHeaders(fixture("contract_valid.npz"), { keys: ["probeGuess"] });
    expect([...headers.keys()]).toEqual(["probeGuess"]);
  });
});

describe("saveNpz", () => {
  const dir = tempDir();

  it("writes arrays that loadNpz reads back identically, stored and compressed", async () => {
    for (const compress of [false, true]) {
      const file = join(dir, `roundtrip-${compress}.npz`);
      await saveNpz(file, DTYPES_EXPECTED, { compress });
      const npz = await loadNpz(file);
      expect(Object.fromEntries(npz.arrays)).toEqual(DTYPES_EXPECTED);
      const { headers } = await readNpzHeaders(file);
      expect(headers.get("f4")?.compressed).toBe(compress);
    }
  });

  it.skipIf(!HAS_NUMPY)(`writes every dtype so numpy reads the same values ${NO_NUMPY}`, async () => {
    for (const compress of [false, true]) {
      const file = join(dir, `numpy-${compress}.npz`);
      await saveNpz(file, (await loadNpz(fixture("dtypes.npz"))).arrays, { compress });
      expect(numpyView(file)).toEqual(numpyView(fixture("dtypes.npz")));
    }
  });

  it.skipIf(!HAS_NUMPY)(
    `writes 0-d, empty, big-endian-sourced and Fortran-sourced arrays numpy reads ${NO_NUMPY}`,
    async () => {
      for (const name of ["scalars.npz", "bigendian.npz", "fortran.npz", "versions.npz"]) {
        const file = join(dir, `again-${name}`);
        const npz = await loadNpz(fixture(name));
        await saveNpz(file, npz.arrays);
        const theirs = numpyView(fixture(name));
        const ours = numpyView(file);
        for (const [key, array] of npz.arrays) {
          expect(ours[key]?.shape).toEqual(theirs[key]?.shape);
          expect(ours[key]?.values).toEqual(theirs[key]?.values);
          expect(ourView(array)).toEqual({ shape: theirs[key]?.shape, values: theirs[key]?.values });
        }
      }
    },
  );

  it.skipIf(!HAS_NUMPY)(
    `writes metadata as a 0-d <U array numpy reads without pickles ${NO_NUMPY}`,
    async () => {
      const file = join(dir, "metadata.npz");
      const metadata = { physics_parameters: { nphotons: 1e9 }, note: "ünïcode ✓" };
      await saveNpz(file, { x: { dtype: "f4", shape: [1], data: Float32Array.of(1) } }, { metadata });
      const out = python(
        "d = np.load(sys.argv[1], allow_pickle=False)\nm = d['_metadata']\nprint(json.dumps([m.dtype.str, m.shape == (), json.loads(m.item())]))",
        file,
      );
      expect(JSON.parse(out)).toEqual([`<U${JSON.stringify(metadata).length}`, true, metadata]);
      expect(readMetadata(await loadNpz(file))).toEqual(metadata);
    },
  );

  it.skipIf(!HAS_NUMPY)(
    `rounds float16 to nearest-even exactly as numpy's astype does ${NO_NUMPY}`,
    async () => {
      const edge = [
        0,
        -0,
        1,
        65504,
        65519.99,
        65520,
        1e6,
        -1e6,
        2 ** -24,
        2 ** -25,
        2 ** -25 * 1.0001,
        3 * 2 ** -25,
        2 ** -14,
        2 ** -14 - 2 ** -25,
        1 + 2 ** -11,
        1 + 3 * 2 ** -11,
        1 + 2 ** -11 + 2 ** -20,
        0.1,
        1 / 3,
        Number.POSITIVE_INFINITY,
        Number.NEGATIVE_INFINITY,
        Number.NaN,
        2 ** -30,
      ];
      let seed = 7;
      const random = Array.from({ length: 2000 }, () => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return ((seed / 2 ** 31) * 2 - 1) * 2 ** ((seed % 40) - 26);
      });
      const values = Float32Array.from([...edge, ...random]);
      const file = join(dir, "half.npz");
      await saveNpz(file, {
        f2: { dtype: "f2", shape: [values.length], data: values },
        f4: { dtype: "f4", shape: [values.length], data: values },
      });
      const out = python(
        "d = np.load(sys.argv[1])\nours = d['f2'].view(np.uint16)\ntheirs = d['f4'].astype(np.float16).view(np.uint16)\nnan = np.isnan(d['f4'])\nprint(int(np.sum((ours != theirs) & ~nan)), int(np.sum(np.isnan(d['f2']) != nan)))",
        file,
      );
      expect(out.trim()).toBe("0 0");
    },
  );

  it("writes the same bytes for the same arrays", async () => {
    const a = join(dir, "same-a.npz");
    const b = join(dir, "same-b.npz");
    await saveNpz(a, DTYPES_EXPECTED, { compress: true });
    await saveNpz(b, DTYPES_EXPECTED, { compress: true });
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
  });

  it("accepts a Map and keeps its key order", async () => {
    const file = join(dir, "map.npz");
    const arrays = new Map<string, NdArray>([
      ["z", { dtype: "u1", shape: [1], data: Uint8Array.of(1) }],
      ["a", { dtype: "u1", shape: [1], data: Uint8Array.of(2) }],
    ]);
    await saveNpz(file, arrays);
    expect([...(await loadNpz(file)).arrays.keys()]).toEqual(["z", "a"]);
  });

  it("replaces an existing file and leaves no temporary file behind", async () => {
    const sub = join(tempDir(), "out.npz");
    writeFileSync(sub, "old contents");
    await saveNpz(sub, { x: { dtype: "i4", shape: [2], data: Int32Array.of(1, 2) } });
    expect((await loadNpz(sub)).arrays.get("x")?.data).toEqual(Int32Array.of(1, 2));
    expect(readdirSync(join(sub, ".."))).toEqual(["out.npz"]);
  });

  it("leaves an existing file untouched when an array is invalid", async () => {
    const folder = tempDir();
    const file = join(folder, "keep.npz");
    writeFileSync(file, "old contents");
    const error = await caught(() =>
      saveNpz(file, {
        ok: { dtype: "f4", shape: [1], data: Float32Array.of(1) },
        bad: { dtype: "f4", shape: [3], data: Float32Array.of(1) },
      }),
    );
    expect(messageOf(error, folder)).toMatchInlineSnapshot(
      `"<tmp>/keep.npz: bad: shape (3,) needs 3 values but data has 1."`,
    );
    expect(readFileSync(file, "utf8")).toBe("old contents");
    expect(readdirSync(folder)).toEqual(["keep.npz"]);
  });

  it("leaves no temporary file when the target cannot be replaced", async () => {
    const folder = tempDir();
    const error = await caught(() =>
      saveNpz(folder, { x: { dtype: "u1", shape: [0], data: new Uint8Array(0) } }),
    );
    expect(codeOf(error)).toBe("WRITE_FAILED");
    expect(readdirSync(folder)).toEqual([]);
    expect(existsSync(folder)).toBe(true);
  });

  it.skipIf(!HAS_NUMPY)(`writes zip64 records that numpy and loadNpz both read ${NO_NUMPY}`, async () => {
    const file = join(dir, "zip64.npz");
    const arrays: Record<string, NdArray> = {
      a: { dtype: "f8", shape: [3], data: Float64Array.of(1, 2, 3) },
      b: { dtype: "U", shape: [], data: ["zip64"] },
    };
    for (const compress of [false, true]) {
      await writeZipAtomic(
        file,
        Object.entries(arrays).map(([key, array]) => ({
          name: `${key}.npy`,
          content: () => [encodeNpy(array)],
        })),
        { compress, forceZip64: true },
      );
      expect(Object.fromEntries((await loadNpz(file)).arrays)).toEqual(arrays);
      expect(numpyView(file)).toEqual({
        a: { descr: "<f8", shape: [3], values: [1, 2, 3] },
        b: { descr: "<U5", shape: [], values: ["zip64"] },
      });
    }
  });
});

describe("the zip reader (internal)", () => {
  it("refuses a deflated member that inflates to more than its directory entry says, whole or streamed", async () => {
    const file = join(tempDir(), "liar.zip");
    await writeZipAtomic(file, [{ name: "x.npy", content: () => [new Uint8Array(1 << 20)] }], {
      compress: true,
    });
    const bytes = readFileSync(file);
    const central = bytes.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    bytes.writeUInt32LE(1000, central + 24); // the uncompressed size: 1 MiB of zeros claims 1000 bytes
    writeFileSync(file, bytes);
    const zip = await openZip(file);
    try {
      const entry = zip.entries[0]!;
      expect(entry.uncompressedSize).toBe(1000);
      const whole = await caught(() => readMember(zip, entry, "x"));
      expect([codeOf(whole), messageOf(whole, dirname(file))]).toMatchInlineSnapshot(`
        [
          "CORRUPT_ZIP",
          "<tmp>/liar.zip: the zip archive is damaged (x inflates to more than 1000 bytes but the directory says 1000 B (1000 bytes)); re-create or re-download the file.",
        ]
      `);
      const streamed = await caught(() => verifyMember(zip, entry, "x"));
      expect(codeOf(streamed)).toBe("CORRUPT_ZIP");
      expect(messageOf(streamed)).toMatch(/x holds \d+ bytes but the directory says 1000\)/);
      // A prefix never goes past the directory's size either.
      expect((await readMemberPrefix(zip, entry, "x", 4096)).length).toBe(1000);
    } finally {
      await closeZip(zip);
    }
  });
});
