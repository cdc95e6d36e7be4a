import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadNpz, readMetadata, saveNpz } from "../src/index.ts";
import { caught, codeOf, fixture, messageOf, tempDir } from "./helpers.ts";

const tmp = tempDir();

describe("readMetadata", () => {
  it("parses the _metadata JSON numpy wrote as a 0-d unicode array", async () => {
    const npz = await loadNpz(fixture("metadata_nphotons.npz"));
    expect(readMetadata(npz)).toEqual({ physics_parameters: { nphotons: 1e9, beam_energy_keV: 8 } });
  });

  it("returns undefined when the file has no _metadata", async () => {
    expect(readMetadata(await loadNpz(fixture("no_metadata.npz")))).toBeUndefined();
  });

  it("throws BAD_METADATA when _metadata is not one string", async () => {
    const file = join(tmp, "two-strings.npz");
    await saveNpz(file, { _metadata: { dtype: "U", shape: [2], data: ["{}", "{}"] } });
    const npz = await loadNpz(file);
    const error = await caught(() => readMetadata(npz));
    expect(codeOf(error)).toBe("BAD_METADATA");
    expect(messageOf(error, tmp)).toMatchInlineSnapshot(
      `"<tmp>/two-strings.npz: _metadata has shape (2,); it must hold one JSON string (a 0-d array, as np.savez(path, _metadata=json.dumps(meta)) writes)."`,
    );
  });

  it("round-trips the metadata option of saveNpz", async () => {
    const file = join(tmp, "roundtrip.npz");
    const metadata = { physics_parameters: { nphotons: 5e8 }, list: [1, "two", null] };
    await saveNpz(file, {}, { metadata });
    expect(readMetadata(await loadNpz(file))).toEqual(metadata);
  });
});
