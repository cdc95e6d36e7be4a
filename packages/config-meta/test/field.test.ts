import { describe, expect, it } from "vitest";
import * as z from "zod";
import {
  applyValueAlias,
  defineField,
  fieldRegistry,
  getField,
  kebabCase,
  listFields,
  screamingSnake,
  sectionDefaults,
} from "../src/index.ts";

const Schema = z.strictObject({
  batchSize: defineField(z.int().positive().default(16), {
    group: "training",
    upstream: "batch_size",
    description: "Groups per optimisation step.",
    aliases: [{ name: "batch", deprecated: true }],
  }),
  N: defineField(z.union([z.literal(32), z.literal(64), z.literal(128)]).default(64), {
    group: "model",
    upstream: "N",
    description: "Patch size.",
  }),
  learningRate: defineField(z.number().positive().default(1e-3), {
    group: "execution",
    upstream: "learning_rate",
    legacyKey: null,
    description: "Step size.",
  }),
  activation: defineField(z.enum(["relu", "swish"]).default("relu"), {
    group: "model",
    upstream: "amp_activation",
    legacyKey: "amp_act",
    description: "Activation.",
    valueAliases: { silu: "swish" },
  }),
  outputDir: defineField(z.string().nullable().default(null), {
    group: "output",
    upstream: "output_prefix",
    flag: "output-dir",
    description: "Where to write.",
    secret: false,
  }),
  milestones: defineField(z.array(z.int()).default([10, 20]), {
    group: "execution",
    upstream: "milestones",
    description: "Epochs.",
  }),
  trainDataFile: defineField(z.string(), {
    group: "data",
    upstream: "train_data_file",
    description: "Training NPZ.",
  }),
  devices: defineField(z.union([z.literal("auto"), z.int().positive()]).default("auto"), {
    group: "execution",
    upstream: "devices",
    description: "How many devices.",
  }),
});

describe("defineField", () => {
  it("registers the metadata on the schema it returns and gives the description to zod", () => {
    const schema = defineField(z.boolean().default(false), {
      group: "training",
      upstream: "debug",
      description: "Print more.",
    });
    expect(fieldRegistry.get(schema)?.upstream).toBe("debug");
    expect(schema.description).toBe("Print more.");
    expect(schema.parse(undefined)).toBe(false);
  });
});

describe("listFields", () => {
  it("derives kind, choices, default, nullable, flag and legacy key from the schema and metadata", () => {
    const rows = listFields(Schema).map((f) => ({
      key: f.key,
      kind: f.kind,
      choices: f.choices,
      hasDefault: f.hasDefault,
      defaultValue: f.defaultValue,
      nullable: f.nullable,
      flag: f.flag,
      legacyKey: f.legacyKey,
    }));
    expect(rows).toMatchInlineSnapshot(`
      [
        {
          "choices": [],
          "defaultValue": 16,
          "flag": "batch-size",
          "hasDefault": true,
          "key": "batchSize",
          "kind": "integer",
          "legacyKey": "batch_size",
          "nullable": false,
        },
        {
          "choices": [
            32,
            64,
            128,
          ],
          "defaultValue": 64,
          "flag": "N",
          "hasDefault": true,
          "key": "N",
          "kind": "enum",
          "legacyKey": "N",
          "nullable": false,
        },
        {
          "choices": [],
          "defaultValue": 0.001,
          "flag": "learning-rate",
          "hasDefault": true,
          "key": "learningRate",
          "kind": "number",
          "legacyKey": null,
          "nullable": false,
        },
        {
          "choices": [
            "relu",
            "swish",
          ],
          "defaultValue": "relu",
          "flag": "activation",
          "hasDefault": true,
          "key": "activation",
          "kind": "enum",
          "legacyKey": "amp_act",
          "nullable": false,
        },
        {
          "choices": [],
          "defaultValue": null,
          "flag": "output-dir",
          "hasDefault": true,
          "key": "outputDir",
          "kind": "string",
          "legacyKey": "output_prefix",
          "nullable": true,
        },
        {
          "choices": [],
          "defaultValue": [
            10,
            20,
          ],
          "flag": "milestones",
          "hasDefault": true,
          "key": "milestones",
          "kind": "array",
          "legacyKey": "milestones",
          "nullable": false,
        },
        {
          "choices": [],
          "defaultValue": undefined,
          "flag": "train-data-file",
          "hasDefault": false,
          "key": "trainDataFile",
          "kind": "string",
          "legacyKey": "train_data_file",
          "nullable": false,
        },
        {
          "choices": [
            "auto",
          ],
          "defaultValue": "auto",
          "flag": "devices",
          "hasDefault": true,
          "key": "devices",
          "kind": "union",
          "legacyKey": "devices",
          "nullable": false,
        },
      ]
    `);
  });

  it("lists fields in schema order and returns the same list on a second call", () => {
    expect(listFields(Schema).map((f) => f.key)).toEqual(Object.keys(Schema.shape));
    expect(listFields(Schema)).toBe(listFields(Schema));
  });

  it("hands out copies of array defaults, so a caller cannot change the schema's default", () => {
    const defaults = sectionDefaults(Schema);
    (defaults.milestones as number[]).push(99);
    expect(sectionDefaults(Schema).milestones).toEqual([10, 20]);
    expect(Schema.parse({ trainDataFile: "x" }).milestones).toEqual([10, 20]);
  });

  it("refuses a field without metadata, naming it", () => {
    const bare = z.strictObject({ undocumented: z.string() });
    expect(() => listFields(bare)).toThrow(
      'Field "undocumented" has no metadata; define it with defineField().',
    );
  });
});

describe("getField", () => {
  it("finds a field by its canonical key only", () => {
    expect(getField(Schema, "batchSize")?.meta.upstream).toBe("batch_size");
    expect(getField(Schema, "batch")).toBeUndefined();
  });
});

describe("sectionDefaults", () => {
  it("holds every field that has a default and no required one", () => {
    expect(sectionDefaults(Schema)).toEqual({
      batchSize: 16,
      N: 64,
      learningRate: 1e-3,
      activation: "relu",
      outputDir: null,
      milestones: [10, 20],
      devices: "auto",
    });
  });
});

describe("kebabCase and screamingSnake", () => {
  it("spell field names as flags and environment names", () => {
    expect(["batchSize", "nGroups", "N", "nepochs", "probeScale2"].map(kebabCase)).toEqual([
      "batch-size",
      "n-groups",
      "N",
      "nepochs",
      "probe-scale2",
    ]);
    expect(["batchSize", "N", "mlflowTrackingUri"].map(screamingSnake)).toEqual([
      "BATCH_SIZE",
      "N",
      "MLFLOW_TRACKING_URI",
    ]);
  });
});

describe("applyValueAlias", () => {
  it("maps an alternative enum spelling and passes other values through", () => {
    const field = getField(Schema, "activation");
    if (!field) throw new Error("no activation field");
    expect(applyValueAlias(field, "silu")).toBe("swish");
    expect(applyValueAlias(field, "relu")).toBe("relu");
    expect(applyValueAlias(field, 3)).toBe(3);
  });
});
