import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  type DataError,
  decodeNpz,
  encodeNpy,
  encodeNpz,
  isDataError,
  type LoadNpzOptions,
  loadNpz,
  type NdArray,
  readMetadata,
  saveNpz,
} from "../src/index.ts";
import { writeZipBytes } from "../src/internal/zip-write.ts";
import { caught, codeOf, fixture, HAS_NUMPY, messageOf, numpyView, tempDir } from "./helpers.ts";

const NO_NUMPY = "(needs python3 with numpy; skipped without it)";

const ARRAYS: Record<string, NdArray> = {
  "enc1a/kernel": {
    dtype: "f4",
    shape: [3, 3, 1, 4],
    data: Float32Array.from({ length: 36 }, (_, i) => i / 7),
  },
  i8: { dtype: "i8", shape: [2], data: BigInt64Array.of(-(2n ** 63n), 2n ** 53n + 1n) },
  u1: { dtype: "u1", shape: [0, 2], data: new Uint8Array(0) },
  scalar: { dtype: "f8", shape: [], data: Float64Array.of(Math.PI) },
  text: { dtype: "U", shape: [2], data: ["ünïcode ✓", ""] },
};
const METADATA = { format: "test", nested: { values: [1, 2.5, null] } };

describe("encodeNpz", () => {
  const dir = tempDir();

  it("returns exactly the bytes saveNpz writes, stored and compressed", async () => {
    for (const compress of [false, true]) {
      const file = join(dir, `same-${compress}.npz`);
      await saveNpz(file, ARRAYS, { compress, metadata: METADATA });
      const bytes = await encodeNpz(ARRAYS, { compress, metadata: METADATA });
      expect(bytes).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(bytes).equals(readFileSync(file))).toBe(true);
    }
  });

  it("returns a buffer of its own: changing the arrays afterwards does not change it", async () => {
    const data = Float32Array.of(1, 2, 3);
    const bytes = await encodeNpz({ x: { dtype: "f4", shape: [3], data } });
    const before = Buffer.from(bytes);
    data.fill(9);
    expect(Buffer.from(bytes).equals(before)).toBe(true);
  });

  it.skipIf(!HAS_NUMPY)(`gives bytes numpy opens with allow_pickle=False ${NO_NUMPY}`, async () => {
    for (const compress of [false, true]) {
      const ours = join(dir, `numpy-${compress}.npz`);
      writeFileSync(ours, await encodeNpz(ARRAYS, { compress, metadata: METADATA }));
      const saved = join(dir, `numpy-saved-${compress}.npz`);
      await saveNpz(saved, ARRAYS, { compress, metadata: METADATA });
      const view = numpyView(ours);
      expect(Object.keys(view)).toEqual([...Object.keys(ARRAYS), "_metadata"]);
      expect(view["enc1a/kernel"]?.shape).toEqual([3, 3, 1, 4]);
      expect(view.i8?.values).toEqual([String(-(2n ** 63n)), String(2n ** 53n + 1n)]);
      expect(JSON.parse(String(view._metadata?.values[0]))).toEqual(METADATA);
      expect(view).toEqual(numpyView(saved));
    }
  });

  it("refuses invalid arrays with saveNpz's codes, naming `what`", async () => {
    const bad = { x: { dtype: "f4", shape: [4], data: Float32Array.of(1) } } as const;
    const error = await caught(() => encodeNpz(bad, { what: "model.zip:weights/weights.npz" }));
    expect(codeOf(error)).toBe("INVALID_ARRAY");
    expect((error as DataError).file).toBe("model.zip:weights/weights.npz");
    expect(messageOf(error)).toMatch(/^model\.zip:weights\/weights\.npz: x: /);
    const file = join(dir, "bad.npz");
    const saved = await caught(() => saveNpz(file, bad));
    expect(messageOf(error).replace("model.zip:weights/weights.npz", "<what>")).toBe(
      messageOf(saved).replace(file, "<what>"),
    );
    const twice = await caught(() => encodeNpz({ _metadata: ARRAYS.scalar! }, { metadata: {} }));
    expect(messageOf(twice)).toMatchInlineSnapshot(
      `"encodeNpz: _metadata is given twice (as an array and as options.metadata); keep one."`,
    );
    const notRecord = await caught(() => encodeNpz(null as never));
    expect(messageOf(notRecord)).toMatchInlineSnapshot(
      `"encodeNpz: encodeNpz needs a record or Map of arrays (key -> NdArray)."`,
    );
  });
});

describe("decodeNpz", () => {
  it("reads encodeNpz's bytes back identically, stored and compressed, and with keys", async () => {
    for (const compress of [false, true]) {
      const bytes = await encodeNpz(ARRAYS, { compress, metadata: METADATA });
      const npz = await decodeNpz(bytes, { what: "mem" });
      expect(npz.file).toBe("mem");
      const { _metadata, ...arrays } = Object.fromEntries(npz.arrays);
      expect(arrays).toEqual(ARRAYS);
      expect(readMetadata(npz)).toEqual(METADATA);
      const some = await decodeNpz(bytes, { what: "mem", keys: ["text", "i8"] });
      expect([...some.arrays.keys()]).toEqual(["text", "i8"]);
    }
  });

  it("reads numpy's files as loadNpz does, and neither changes nor shares the bytes", async () => {
    for (const name of [
      "dtypes.npz",
      "dtypes_compressed.npz",
      "bigendian.npz",
      "fortran.npz",
      "versions.npz",
    ]) {
      const bytes = readFileSync(fixture(name));
      const copy = Buffer.from(bytes);
      const npz = await decodeNpz(bytes, { what: name });
      expect(npz.arrays).toEqual((await loadNpz(fixture(name))).arrays);
      for (const array of npz.arrays.values()) {
        if (typeof array.data !== "object" || !ArrayBuffer.isView(array.data)) continue;
        expect(array.data.buffer).not.toBe(bytes.buffer);
      }
      expect(bytes.equals(copy)).toBe(true);
    }
  });

  it("reads zip64 records", async () => {
    const bytes = await writeZipBytes([{ name: "x.npy", content: () => [encodeNpy(ARRAYS.scalar!)] }], {
      compress: false,
      forceZip64: true,
    });
    expect(Buffer.from(bytes).includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(true);
    expect(Object.fromEntries((await decodeNpz(bytes, { what: "z64" })).arrays)).toEqual({
      x: ARRAYS.scalar,
    });
  });

  // Each damaged fixture read from memory must fail exactly as the file does, with `what` for the path.
  const DAMAGED: readonly (readonly [string, LoadNpzOptions])[] = [
    ["not_a_zip.npz", {}],
    ["plain.npy", {}],
    ["truncated.npz", {}],
    ["corrupt_crc.npz", {}],
    ["bzip2.npz", {}],
    ["bad_header.npz", {}],
    ["header_lies.npz", {}],
    ["pickled.npz", {}],
    ["unsupported_dtype.npz", { keys: ["when"] }],
    ["dtypes.npz", { keys: ["c16"], maxBytes: 64 }],
    ["contract_valid.npz", { keys: ["probeguess"] }],
  ];

  it("fails on damaged bytes with the code and message loadNpz gives for the file", async () => {
    const codes: string[] = [];
    for (const [name, options] of DAMAGED) {
      const what = `model.zip:weights/${name}`;
      const fromFile = await caught(() => loadNpz(fixture(name), options));
      const fromBytes = await caught(() => decodeNpz(readFileSync(fixture(name)), { ...options, what }));
      expect(isDataError(fromBytes)).toBe(true);
      expect(codeOf(fromBytes)).toBe(codeOf(fromFile));
      expect((fromBytes as DataError).file).toBe(what);
      expect((fromBytes as DataError).key).toBe((fromFile as DataError).key);
      expect(messageOf(fromBytes).split(what).join("<source>")).toBe(
        (fromFile as Error).message.split(fixture(name)).join("<source>"),
      );
      codes.push(String(codeOf(fromBytes)));
    }
    expect(codes).toMatchInlineSnapshot(`
      [
        "NOT_A_ZIP",
        "NOT_A_ZIP",
        "TRUNCATED",
        "CORRUPT_ZIP",
        "UNSUPPORTED_ZIP",
        "BAD_HEADER",
        "SIZE_MISMATCH",
        "PICKLED",
        "UNSUPPORTED_DTYPE",
        "TOO_LARGE",
        "MISSING_KEY",
      ]
    `);
    const error = await caught(() => decodeNpz(readFileSync(fixture("corrupt_crc.npz")), { what: "w.npz" }));
    expect(messageOf(error)).toMatchInlineSnapshot(
      `"w.npz: the zip archive is damaged (the CRC-32 checksum of diffraction does not match its data); re-create or re-download the file."`,
    );
  });

  it("refuses what is not bytes, or bytes without a what, with INVALID_OPTIONS", async () => {
    const notBytes = await caught(() => decodeNpz("x.npz" as never, { what: "x" }));
    expect([codeOf(notBytes), messageOf(notBytes)]).toMatchInlineSnapshot(`
      [
        "INVALID_OPTIONS",
        "decodeNpz needs a Uint8Array (or Buffer) and { what: string } naming it, got string.",
      ]
    `);
    const noWhat = await caught(() => decodeNpz(new Uint8Array(4), {} as never));
    expect([codeOf(noWhat), messageOf(noWhat)]).toMatchInlineSnapshot(`
      [
        "INVALID_OPTIONS",
        "decodeNpz needs a Uint8Array (or Buffer) and { what: string } naming it, got what undefined.",
      ]
    `);
  });

  it("refuses empty bytes and bytes cut anywhere with coded errors", async () => {
    const bytes = await encodeNpz(ARRAYS, { compress: true, metadata: METADATA });
    expect(codeOf(await caught(() => decodeNpz(new Uint8Array(0), { what: "e" })))).toBe("NOT_A_ZIP");
    for (let cut = 1; cut < bytes.length; cut += 37) {
      const error = await caught(() => decodeNpz(bytes.subarray(0, cut), { what: "cut" }));
      expect(isDataError(error)).toBe(true);
    }
  });
});
