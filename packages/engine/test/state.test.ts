import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readModelBundle, writeModelBundle } from "@trainkit/data";
import { describe, expect, it } from "vitest";
import { WEIGHTS_MEMBER } from "../src/bundle.ts";
import { writeCheckpoint } from "../src/loop/checkpoint-file.ts";
import { isLoopError } from "../src/loop/errors.ts";
import { decodeWeights, type EncodedState, encodeWeights, loadState, saveState } from "../src/state.ts";
import { caught, HAS_NUMPY, messageOf, python, tempDir } from "./loop/helpers.ts";

const weights: EncodedState = {
  arrays: [
    { name: "enc1a/kernel", shape: [3, 3, 1, 2], data: Float32Array.from({ length: 18 }, (_, i) => i - 9) },
    { name: "probe/re", shape: [2, 2, 1], data: Float32Array.of(0.5, -0.5, 1e-30, 3e38) },
    { name: "logIntensityScale", shape: [], data: Float32Array.of(-1.25) },
  ],
  meta: { intensityScale: 1234.5, meanTotalIntensity: 4096 },
};

async function bundleOf(state: EncodedState): Promise<string> {
  const file = join(tempDir(), "model.zip");
  await writeModelBundle(file, {
    backend: "embedded",
    packages: { "@trainkit/engine": "0.0.0" },
    payload: { kind: "training", config: {} },
    legacyParams: {},
    weights: { "weights.npz": await encodeWeights(state) },
  });
  return file;
}

describe("encodeWeights / decodeWeights", () => {
  it("round-trips the arrays bit for bit and the metadata, through a model bundle", async () => {
    const bundle = await readModelBundle(await bundleOf(weights), { weights: true });
    const bytes = bundle.weights.get(WEIGHTS_MEMBER);
    expect(bytes).toBeDefined();
    expect(await decodeWeights(bytes!, "w")).toEqual(weights);
  });

  it("gives the bytes saveState writes to a file, and loadState reads such a file as decodeWeights reads them", async () => {
    const file = join(tempDir(), "weights.npz");
    await saveState(file, "trainkit-weights", weights);
    const bytes = await encodeWeights(weights);
    expect(Buffer.from(bytes).equals(readFileSync(file))).toBe(true);
    expect(await loadState(file, "trainkit-weights")).toEqual(await decodeWeights(bytes, "w"));
  });

  it("refuses damaged bytes with BAD_STATE naming them, as loadState does for a damaged file", async () => {
    const bytes = Buffer.from(await encodeWeights(weights));
    bytes[200] = (bytes[200] ?? 0) ^ 0xff; // inside enc1a/kernel's data (from byte 174): its CRC-32 no longer matches
    const fromBytes = await caught(() => decodeWeights(bytes, "model.zip:weights/weights.npz"));
    expect(isLoopError(fromBytes, "BAD_STATE")).toBe(true);
    expect((fromBytes as { file?: unknown }).file).toBeUndefined();
    expect(messageOf(fromBytes)).toMatchInlineSnapshot(
      `"model.zip:weights/weights.npz: cannot be read as an .npz: the zip archive is damaged (the CRC-32 checksum of enc1a/kernel does not match its data); re-create or re-download the file."`,
    );
    const file = join(tempDir(), "damaged.npz");
    writeFileSync(file, bytes);
    const fromFile = await caught(() => loadState(file, "trainkit-weights", "model.zip:weights/weights.npz"));
    expect(messageOf(fromFile)).toBe(messageOf(fromBytes));
  });

  it("gives the same bytes for the same weights (runs with one seed give identical bundles)", async () => {
    expect(Buffer.from(await encodeWeights(weights)).equals(await encodeWeights(weights))).toBe(true);
  });

  it.skipIf(!HAS_NUMPY)(
    "writes weights/weights.npz in model.zip that numpy.load opens: arrays by variable and JSON metadata",
    async () => {
      const seen = python(
        `member = zipfile.ZipFile(sys.argv[1]).read("weights/weights.npz")
z = np.load(io.BytesIO(member), allow_pickle=False)
print(json.dumps({
  "files": sorted(z.files),
  "shapes": {k: list(z[k].shape) for k in z.files if k != "_metadata"},
  "dtypes": sorted({str(z[k].dtype) for k in z.files if k != "_metadata"}),
  "kernel": z["enc1a/kernel"][:, :, 0, 1].tolist(),
  "metadata": json.loads(str(z["_metadata"])),
}))`,
        await bundleOf(weights),
      );
      expect(seen).toMatchInlineSnapshot(`
        {
          "dtypes": [
            "float32",
          ],
          "files": [
            "_metadata",
            "enc1a/kernel",
            "logIntensityScale",
            "probe/re",
          ],
          "kernel": [
            [
              -8,
              -6,
              -4,
            ],
            [
              -2,
              0,
              2,
            ],
            [
              4,
              6,
              8,
            ],
          ],
          "metadata": {
            "format": "trainkit-weights",
            "formatVersion": 1,
            "intensityScale": 1234.5,
            "meanTotalIntensity": 4096,
          },
          "shapes": {
            "enc1a/kernel": [
              3,
              3,
              1,
              2,
            ],
            "logIntensityScale": [],
            "probe/re": [
              2,
              2,
              1,
            ],
          },
        }
      `);
    },
  );

  it("refuses array names that would collide in the .npz with INVALID_STATE", async () => {
    const [first] = weights.arrays;
    for (const arrays of [[first!, first!], [{ ...first!, name: "_metadata" }]]) {
      const error = await caught(() => encodeWeights({ arrays, meta: {} }));
      expect(isLoopError(error, "INVALID_STATE")).toBe(true);
      expect(messageOf(error).replace(/^.*?: /, "")).toMatch(
        /^the array name "(enc1a\/kernel" is used twice|_metadata" is the metadata member's)\.$/,
      );
    }
  });

  it("refuses bytes that are not trainkit weights with BAD_STATE, naming them and no temporary file", async () => {
    const garbage = await caught(() =>
      decodeWeights(new Uint8Array([1, 2, 3]), "model.zip:weights/weights.npz"),
    );
    expect(isLoopError(garbage, "BAD_STATE")).toBe(true);
    expect(messageOf(garbage)).toMatchInlineSnapshot(
      `"model.zip:weights/weights.npz: not trainkit model weights: not an .npz file (no zip archive found; an .npz is a zip archive written by numpy.savez or numpy.savez_compressed)."`,
    );
    const dir = tempDir();
    const ckpt = join(dir, "last.ckpt");
    await writeCheckpoint(ckpt, {
      epoch: 0,
      step: 0,
      monitor: null,
      metric: null,
      metrics: {},
      wallTime: 0,
      model: weights.arrays,
      optimizer: { step: 0 },
      scheduler: {},
      earlyStopping: {},
      rng: {},
    });
    const checkpoint = await caught(() => decodeWeights(readFileSync(ckpt), "w.npz"));
    expect(messageOf(checkpoint)).toMatchInlineSnapshot(
      `"w.npz: not trainkit model weights (its _metadata says format "trainkit-checkpoint")."`,
    );
  });
});
