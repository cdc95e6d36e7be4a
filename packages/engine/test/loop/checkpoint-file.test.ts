import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { saveNpz } from "@trainkit/data";
import { describe, expect, it } from "vitest";
import { type Checkpoint, readCheckpoint, writeCheckpoint } from "../../src/loop/checkpoint-file.ts";
import { isLoopError } from "../../src/loop/errors.ts";
import { encodeWeights } from "../../src/state.ts";
import { caught, HAS_NUMPY, messageOf, python, tempDir } from "./helpers.ts";

const checkpoint: Checkpoint = {
  epoch: 2,
  step: 7,
  monitor: "val_loss",
  metric: 0.5,
  metrics: { val_loss: 0.5, train_loss: null },
  wallTime: 1_700_000_000.25,
  model: [
    { name: "enc1a/kernel", shape: [3, 1, 2], data: Float32Array.from({ length: 6 }, (_, i) => i / 3) },
    { name: "logIntensityScale", shape: [], data: Float32Array.of(Math.PI) },
  ],
  optimizer: {
    step: 7,
    "adam.m/enc1a/kernel": Float32Array.from({ length: 6 }, (_, i) => -i),
    "adam.v/enc1a/kernel": Float32Array.from({ length: 6 }, (_, i) => i * i),
    "adam.m/logIntensityScale": Float32Array.of(0.25),
  },
  scheduler: { lr: 0.001, bad: 0, best: null },
  earlyStopping: { best: 0.5, wait: 1, stoppedEpoch: null },
  rng: { state: [1, 2, 3, 4] },
};

async function written(name = "last.ckpt"): Promise<string> {
  const file = join(tempDir(), name);
  await writeCheckpoint(file, checkpoint);
  return file;
}

/** What `readCheckpoint` threw for `file`, with the temporary folder as `<tmp>`. */
async function refusal(file: string): Promise<string> {
  const error = await caught(() => readCheckpoint(file));
  expect(isLoopError(error, "BAD_CHECKPOINT"), String(error)).toBe(true);
  return messageOf(error, join(file, ".."));
}

describe("writeCheckpoint / readCheckpoint", () => {
  it("round-trips every array bit for bit and every small state", async () => {
    const read = await readCheckpoint(await written());
    expect(read).toEqual(checkpoint);
    // Float32 values survive exactly (π is not representable: the same float32 comes back).
    expect(read.model[1]?.data[0]).toBe(Math.fround(Math.PI));
  });

  it("writes the same bytes for the same checkpoint", async () => {
    expect(readFileSync(await written()).equals(readFileSync(await written()))).toBe(true);
  });

  it.skipIf(!HAS_NUMPY)(
    "is an .npz that numpy.load opens without pickles: arrays by variable, optimizer beside them, JSON metadata",
    async () => {
      const seen = python(
        `z = np.load(sys.argv[1], allow_pickle=False)
print(json.dumps({
  "files": sorted(z.files),
  "arrays": {k: [str(z[k].dtype), list(z[k].shape), float(z[k].sum())] for k in z.files if k != "_metadata"},
  "metadata": json.loads(str(z["_metadata"])),
}))`,
        await written(),
      );
      expect(seen).toMatchInlineSnapshot(`
        {
          "arrays": {
            "enc1a/kernel": [
              "float32",
              [
                3,
                1,
                2,
              ],
              5,
            ],
            "logIntensityScale": [
              "float32",
              [],
              3.1415927410125732,
            ],
            "optimizer/adam.m/enc1a/kernel": [
              "float32",
              [
                3,
                1,
                2,
              ],
              -15,
            ],
            "optimizer/adam.m/logIntensityScale": [
              "float32",
              [],
              0.25,
            ],
            "optimizer/adam.v/enc1a/kernel": [
              "float32",
              [
                3,
                1,
                2,
              ],
              55,
            ],
          },
          "files": [
            "_metadata",
            "enc1a/kernel",
            "logIntensityScale",
            "optimizer/adam.m/enc1a/kernel",
            "optimizer/adam.m/logIntensityScale",
            "optimizer/adam.v/enc1a/kernel",
          ],
          "metadata": {
            "earlyStopping": {
              "best": 0.5,
              "stoppedEpoch": null,
              "wait": 1,
            },
            "epoch": 2,
            "format": "trainkit-checkpoint",
            "formatVersion": 1,
            "metric": 0.5,
            "metrics": {
              "train_loss": null,
              "val_loss": 0.5,
            },
            "monitor": "val_loss",
            "optimizer": {
              "step": 7,
            },
            "rng": {
              "state": [
                1,
                2,
                3,
                4,
              ],
            },
            "scheduler": {
              "bad": 0,
              "best": null,
              "lr": 0.001,
            },
            "step": 7,
            "wallTime": 1700000000.25,
          },
        }
      `);
    },
  );

  it("refuses a file that is not an .npz with BAD_CHECKPOINT, leaving it alone", async () => {
    const file = join(tempDir(), "x.ckpt");
    writeFileSync(file, "not a checkpoint");
    expect(await refusal(file)).toMatchInlineSnapshot(
      `"checkpoint <tmp>/x.ckpt: not a trainkit checkpoint: not an .npz file (no zip archive found; an .npz is a zip archive written by numpy.savez or numpy.savez_compressed)."`,
    );
    expect(readFileSync(file, "utf8")).toBe("not a checkpoint");
  });

  it("refuses a truncated or damaged checkpoint with BAD_CHECKPOINT", async () => {
    const file = await written();
    const bytes = readFileSync(file);
    const cut = join(tempDir(), "cut.ckpt");
    writeFileSync(cut, bytes.subarray(0, bytes.length - 30));
    expect(await refusal(cut)).toMatchInlineSnapshot(
      `"checkpoint <tmp>/cut.ckpt: cannot be read as an .npz: the file starts like a zip archive but its end (the zip directory) is missing; it is truncated (an interrupted write or download). Re-create or re-download it."`,
    );
    const flipped = Buffer.from(bytes);
    // A byte inside the data of enc1a/kernel (whose second value is 1/3).
    const at = bytes.indexOf(Buffer.from(Float32Array.of(1 / 3).buffer));
    expect(at).toBeGreaterThan(0);
    flipped[at]! ^= 0x55;
    const damaged = join(tempDir(), "damaged.ckpt");
    writeFileSync(damaged, flipped);
    expect(await refusal(damaged)).toMatchInlineSnapshot(
      `"checkpoint <tmp>/damaged.ckpt: cannot be read as an .npz: the zip archive is damaged (the CRC-32 checksum of enc1a/kernel does not match its data); re-create or re-download the file."`,
    );
  });

  it("refuses an .npz that is not a trainkit checkpoint, saying what it is", async () => {
    const dir = tempDir();
    const plain = join(dir, "plain.npz");
    await saveNpz(plain, { a: { dtype: "f4", shape: [1], data: Float32Array.of(1) } });
    expect(await refusal(plain)).toMatchInlineSnapshot(
      `"checkpoint <tmp>/plain.npz: not a trainkit checkpoint (it has no _metadata member)."`,
    );
    const weights = join(dir, "weights.npz");
    writeFileSync(weights, await encodeWeights({ arrays: checkpoint.model, meta: { intensityScale: 1 } }));
    expect(await refusal(weights)).toMatchInlineSnapshot(
      `"checkpoint <tmp>/weights.npz: not a trainkit checkpoint (its _metadata says format "trainkit-weights")."`,
    );
  });

  it("names the member or metadata field that does not fit", async () => {
    const dir = tempDir();
    const meta = { format: "trainkit-checkpoint", formatVersion: 1, epoch: 0, step: 0 };
    const f4 = { dtype: "f4", shape: [1], data: Float32Array.of(1) } as const;
    const cases = {
      "newer.ckpt": [{ w: f4 }, { ...meta, formatVersion: 2 }],
      "float64.ckpt": [{ w: { dtype: "f8", shape: [1], data: Float64Array.of(1) } }, meta],
      "no-epoch.ckpt": [{ w: f4 }, { ...meta, epoch: -1 }],
      "no-optimizer.ckpt": [{ w: f4 }, { ...meta, monitor: null, metric: null, metrics: {}, wallTime: 0 }],
    } as const;
    const messages: string[] = [];
    for (const [name, [arrays, metadata]] of Object.entries(cases)) {
      await saveNpz(join(dir, name), arrays, { metadata });
      messages.push(await refusal(join(dir, name)));
    }
    expect(messages).toMatchInlineSnapshot(`
      [
        "checkpoint <tmp>/newer.ckpt: format version 2 is newer than this trainkit reads (1); upgrade trainkit.",
        "checkpoint <tmp>/float64.ckpt: w is of dtype f8; trainkit saves float32 (convert it with .astype(numpy.float32)).",
        "checkpoint <tmp>/no-epoch.ckpt: _metadata.epoch must be a non-negative integer, got -1.",
        "checkpoint <tmp>/no-optimizer.ckpt: _metadata.optimizer must be an object of numbers, got nothing.",
      ]
    `);
  });
});
