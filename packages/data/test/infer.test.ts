import { readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { inferProbeSize, loadNpz, readNphotons } from "../src/index.ts";
import { caught, codeOf, fixture, messageOf, tempDir } from "./helpers.ts";

const tmp = tempDir();

describe("inferProbeSize", () => {
  it("returns N from probeGuess.shape with the path as given in the source", async () => {
    const file = fixture("contract_valid.npz");
    expect(await inferProbeSize(file)).toEqual({ value: 16, source: `${file}:probeGuess.shape` });
    const rel = relative(process.cwd(), fixture("contract_supervised.npz"));
    expect(await inferProbeSize(rel)).toEqual({ value: 8, source: `${rel}:probeGuess.shape` });
  });

  it("reads only the header, so damaged probe data does not matter", async () => {
    const bytes = readFileSync(fixture("contract_valid_stored.npz"));
    const at = bytes.indexOf("probeGuess.npy") + 300; // past the name, extra field and .npy header
    bytes[at] = (bytes[at] ?? 0) ^ 0xff;
    const file = join(tmp, "damaged-probe.npz");
    writeFileSync(file, bytes);
    expect((await inferProbeSize(file)).value).toBe(8);
    expect(codeOf(await caught(() => loadNpz(file, { keys: ["probeGuess"] })))).toBe("CORRUPT_ZIP");
  });

  it("throws instead of falling back to 64 when the probe is missing, not 2-D or not square", async () => {
    const cases = [
      ["missing.npz", "FILE_NOT_FOUND"],
      ["metadata_bytes.npz", "MISSING_KEY"],
      ["probe_3d.npz", "BAD_SHAPE"],
      ["nonsquare_probe.npz", "NON_SQUARE_PROBE"],
      ["not_a_zip.npz", "NOT_A_ZIP"],
    ] as const;
    for (const [name, code] of cases) {
      expect(codeOf(await caught(() => inferProbeSize(fixture(name))))).toBe(code);
    }
  });

  it("says why probeGuess is needed when it is missing", async () => {
    expect(
      messageOf(await caught(() => inferProbeSize(fixture("metadata_bytes.npz")))),
    ).toMatchInlineSnapshot(
      `"<fixtures>/metadata_bytes.npz: no array named "probeGuess" (N is inferred from probeGuess.shape; add the probe or set N explicitly); the file has: _metadata."`,
    );
  });
});

describe("readNphotons", () => {
  it("returns physics_parameters.nphotons from _metadata with its source", async () => {
    const file = fixture("metadata_nphotons.npz");
    expect(await readNphotons(file)).toEqual({
      value: 1e9,
      source: `${file}:_metadata.physics_parameters.nphotons`,
    });
    expect((await readNphotons(fixture("contract_valid.npz")))?.value).toBe(1e9);
  });

  it("reads _metadata stored as a byte string (|S)", async () => {
    expect((await readNphotons(fixture("metadata_bytes.npz")))?.value).toBe(250000);
  });

  it("returns undefined when there is no _metadata or no nphotons in it", async () => {
    expect(await readNphotons(fixture("no_metadata.npz"))).toBeUndefined();
    expect(await readNphotons(fixture("metadata_no_nphotons.npz"))).toBeUndefined();
  });

  it("throws for invalid JSON, a non-positive nphotons, pickled metadata and a missing file", async () => {
    const cases = [
      ["metadata_invalid.npz", "BAD_METADATA"],
      ["metadata_bad_nphotons.npz", "BAD_METADATA"],
      ["pickled.npz", "PICKLED"],
      ["missing.npz", "FILE_NOT_FOUND"],
    ] as const;
    for (const [name, code] of cases) {
      expect(codeOf(await caught(() => readNphotons(fixture(name))))).toBe(code);
    }
  });

  it("says the metadata is not JSON and how to write it", async () => {
    const message = messageOf(await caught(() => readNphotons(fixture("metadata_invalid.npz"))));
    expect(message).toMatch(
      /^<fixtures>\/metadata_invalid\.npz: _metadata is not valid JSON \(.+\); write it with json\.dumps\.$/,
    );
  });
});
