import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { isLoopError } from "../../src/loop/errors.ts";
import { createLogger, nextVersionDir } from "../../src/loop/loggers/create.ts";
import { toYaml } from "../../src/loop/loggers/hparams-yaml.ts";
import { crc32c, maskedCrc32c } from "../../src/loop/loggers/tfrecord.ts";
import { caught, HAS_PYTHON, HAS_PYYAML, HAS_TENSORBOARD, tempDir } from "./helpers.ts";

const HERE = dirname(fileURLToPath(import.meta.url));

interface DecodedEvent {
  wall_time?: number;
  step?: number;
  file_version?: string;
  summary?: { tag: string; simple_value: number }[];
}

/** A small independent reader: TFRecord framing with CRC checks, then the Event fields we write. */
function readEvents(bytes: Uint8Array): DecodedEvent[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const events: DecodedEvent[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const length = Number(view.getBigUint64(pos, true));
    expect(view.getUint32(pos + 8, true)).toBe(maskedCrc32c(bytes.subarray(pos, pos + 8)));
    const data = bytes.subarray(pos + 12, pos + 12 + length);
    expect(view.getUint32(pos + 12 + length, true)).toBe(maskedCrc32c(data));
    events.push(decodeEvent(data));
    pos += 16 + length;
  }
  return events;
}

function* fields(buf: Uint8Array): Generator<[number, number, Uint8Array | number]> {
  let pos = 0;
  const varint = (): number => {
    let value = 0;
    let mul = 1;
    for (;;) {
      const b = buf[pos++]!;
      value += (b & 0x7f) * mul;
      mul *= 128;
      if (!(b & 0x80)) return value;
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const wire = key & 7;
    if (wire === 0) yield [key >> 3, wire, varint()];
    else {
      const n = wire === 1 ? 8 : wire === 5 ? 4 : varint();
      yield [key >> 3, wire, buf.subarray(pos, pos + n)];
      pos += n;
    }
  }
}

function decodeEvent(data: Uint8Array): DecodedEvent {
  const event: DecodedEvent = {};
  const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (const [n, , v] of fields(data)) {
    if (n === 1) event.wall_time = dv(v as Uint8Array).getFloat64(0, true);
    if (n === 2) event.step = v as number;
    if (n === 3) event.file_version = new TextDecoder().decode(v as Uint8Array);
    if (n === 5) {
      event.summary = [];
      for (const [, , value] of fields(v as Uint8Array)) {
        const item = { tag: "", simple_value: Number.NaN };
        for (const [m, , w] of fields(value as Uint8Array)) {
          if (m === 1) item.tag = new TextDecoder().decode(w as Uint8Array);
          if (m === 2) item.simple_value = dv(w as Uint8Array).getFloat32(0, true);
        }
        event.summary.push(item);
      }
    }
  }
  return event;
}

function writeTensorboardRun(dir: string): string {
  const logger = createLogger("tensorboard", dir, { lr: 0.001 });
  logger.log({ train_loss: 0.5, val_loss: 0.25 }, 10, 0);
  logger.log({ train_loss: 0.125 }, 20, 1);
  logger.close();
  const version = logger.versionDir!;
  const name = readdirSync(version).find((f) => f.startsWith("events.out.tfevents."))!;
  return join(version, name);
}

describe("crc32c", () => {
  it("matches the CRC-32C check value", () => {
    expect(crc32c(new TextEncoder().encode("123456789"))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
  });
});

describe("createLogger", () => {
  it("writes Lightning's CSV layout, rewriting the header when a new metric appears", () => {
    const dir = tempDir();
    const logger = createLogger("csv", dir, { model: { N: 64 }, lr: 1e-3 });
    expect(logger.versionDir).toBe(join(dir, "lightning_logs", "version_0"));
    logger.log({ train_loss: 0.5 }, 10, 0);
    logger.log({ train_loss: 0.25, val_loss: Number.NaN }, 20, 1);
    logger.log({ train_loss: 0.125, val_loss: 0.75 }, 30, 2);
    logger.close();
    expect(readFileSync(join(logger.versionDir!, "metrics.csv"), "utf8")).toMatchInlineSnapshot(`
      "epoch,step,train_loss,val_loss
      0,10,0.5,
      1,20,0.25,nan
      2,30,0.125,0.75
      "
    `);
    expect(readFileSync(join(logger.versionDir!, "hparams.yaml"), "utf8")).toMatchInlineSnapshot(`
      "model:
        N: 64
      lr: 0.001
      "
    `);
    expect(() => logger.log({}, 1, 1)).toThrow(/log\(\) after close\(\)/);
  });

  it("numbers versions one above the highest existing version_<n>", () => {
    const dir = tempDir();
    mkdirSync(join(dir, "lightning_logs", "version_4"), { recursive: true });
    mkdirSync(join(dir, "lightning_logs", "other"), { recursive: true });
    expect(nextVersionDir(join(dir, "lightning_logs"))).toBe(join(dir, "lightning_logs", "version_5"));
    const a = createLogger("csv", dir);
    const b = createLogger("tensorboard", dir);
    expect([a.versionDir, b.versionDir]).toEqual([
      join(dir, "lightning_logs", "version_5"),
      join(dir, "lightning_logs", "version_6"),
    ]);
    a.close();
    b.close();
  });

  it("writes nothing for none and rejects loggers it cannot write", async () => {
    const dir = tempDir();
    const none = createLogger("none", dir);
    none.log({ loss: 1 }, 0, 0);
    none.close();
    expect(readdirSync(dir)).toEqual([]);
    const error = await caught(() => createLogger("mlflow", dir));
    expect(isLoopError(error, "INVALID_OPTION")).toBe(true);
  });

  it("writes TensorBoard event files: TFRecord framing, a file_version record, then scalar summaries", () => {
    const dir = tempDir();
    const file = writeTensorboardRun(dir);
    expect(file).toMatch(
      new RegExp(`events\\.out\\.tfevents\\.\\d{10}\\.${hostname().replace(/[.]/g, "\\.")}$`),
    );
    const events = readEvents(readFileSync(file));
    expect(events).toHaveLength(3);
    expect(events[0]).toMatchObject({ file_version: "brain.Event:2", step: 0 });
    expect(events[1]).toMatchObject({
      step: 10,
      summary: [
        { tag: "train_loss", simple_value: 0.5 },
        { tag: "val_loss", simple_value: 0.25 },
        { tag: "epoch", simple_value: 0 },
      ],
    });
    expect(events[2]).toMatchObject({
      step: 20,
      summary: [
        { tag: "train_loss", simple_value: 0.125 },
        { tag: "epoch", simple_value: 1 },
      ],
    });
    const now = Date.now() / 1000;
    for (const e of events) expect(Math.abs(e.wall_time! - now)).toBeLessThan(60);
    expect(readdirSync(dirname(file)).sort()).toEqual(
      [file.slice(dirname(file).length + 1), "hparams.yaml"].sort(),
    );
  });

  it.skipIf(!HAS_PYTHON)("writes event files a standard-library Python reader accepts, CRCs included", () => {
    const file = writeTensorboardRun(tempDir());
    const out = execFileSync("python3", [join(HERE, "fixtures", "read_tfevents.py"), file], {
      encoding: "utf8",
    });
    const events = JSON.parse(out) as DecodedEvent[];
    expect(events.map((e) => e.step)).toEqual([0, 10, 20]);
    expect(events[0]!.file_version).toBe("brain.Event:2");
    expect(events[1]!.summary).toEqual([
      { tag: "train_loss", simple_value: 0.5 },
      { tag: "val_loss", simple_value: 0.25 },
      { tag: "epoch", simple_value: 0 },
    ]);
  });

  // TensorBoard is not a dependency; when it happens to be installed, its own reader must agree.
  it.skipIf(!HAS_TENSORBOARD)(
    "writes event files TensorBoard's EventAccumulator reads (skipped: tensorboard not installed)",
    () => {
      const file = writeTensorboardRun(tempDir());
      const script = [
        "import json, sys",
        "from tensorboard.backend.event_processing.event_accumulator import EventAccumulator",
        "acc = EventAccumulator(sys.argv[1]); acc.Reload()",
        "print(json.dumps({t: [[e.step, e.value] for e in acc.Scalars(t)] for t in acc.Tags()['scalars']}))",
      ].join("\n");
      const out = JSON.parse(execFileSync("python3", ["-c", script, file], { encoding: "utf8" }));
      expect(out).toEqual({
        train_loss: [
          [10, 0.5],
          [20, 0.125],
        ],
        val_loss: [[10, 0.25]],
        epoch: [
          [10, 0],
          [20, 1],
        ],
      });
    },
  );
});

describe("toYaml", () => {
  const hparams = {
    model: { N: 64, gridsize: 2, objectBig: true, probe: null, name: "PtychoPINN v2", empty: {} },
    training: { lr: 1e-7, big: 1e21, milestones: [3, 6], none: [], tags: ["a", "yes", "1.5", "x: y"] },
    nan: Number.NaN,
    inf: Number.NEGATIVE_INFINITY,
    "odd key": 'multi\nline "quoted"',
    nested: [{ a: 1, b: [1, 2] }, [1, 2]],
  };

  it("writes block-style YAML with quoted strings where needed", () => {
    expect(toYaml(hparams)).toMatchInlineSnapshot(`
      "model:
        N: 64
        gridsize: 2
        objectBig: true
        probe: null
        name: PtychoPINN v2
        empty: {}
      training:
        lr: 1.0e-7
        big: 1.0e+21
        milestones:
        - 3
        - 6
        none: []
        tags:
        - a
        - "yes"
        - "1.5"
        - "x: y"
      nan: .nan
      inf: -.inf
      odd key: "multi\\nline \\"quoted\\""
      nested:
      - a: 1
        b:
        - 1
        - 2
      - - 1
        - 2
      "
    `);
    expect(toYaml({})).toBe("{}\n");
  });

  it.skipIf(!HAS_PYYAML)("is read back by PyYAML as the same values", () => {
    const script =
      "import sys, yaml, json, math\nd = yaml.safe_load(sys.stdin)\nd['nan'] = 'NaN' if math.isnan(d['nan']) else d['nan']\nd['inf'] = str(d['inf'])\nprint(json.dumps(d))";
    const out = JSON.parse(
      execFileSync("python3", ["-c", script], { input: toYaml(hparams), encoding: "utf8" }),
    );
    expect(out).toEqual({ ...hparams, nan: "NaN", inf: "-inf" });
  });
});
