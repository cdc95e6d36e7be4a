import { describe, expect, it } from "vitest";
import * as z from "zod";
import {
  type ConfigWarning,
  createSection,
  defineField,
  defineRule,
  isConfigError,
  normalizeSection,
  sectionJsonSchema,
} from "../src/index.ts";

const Schema = z.strictObject({
  batchSize: defineField(z.int().positive().default(16), {
    group: "training",
    upstream: "batch_size",
    description: "Groups per optimisation step.",
    aliases: [
      { name: "batch", deprecated: true },
      { name: "bs", deprecated: false },
    ],
  }),
  numWorkers: defineField(z.int().min(0).default(0), {
    group: "execution",
    upstream: "num_workers",
    description: "Loader workers.",
  }),
  persistentWorkers: defineField(z.boolean().default(false), {
    group: "execution",
    upstream: "persistent_workers",
    description: "Keep workers alive.",
  }),
  activation: defineField(z.enum(["relu", "swish"]).default("relu"), {
    group: "model",
    upstream: "amp_activation",
    description: "Activation.",
    valueAliases: { silu: "swish" },
  }),
  token: defineField(z.string().min(8).nullable().default(null), {
    group: "execution",
    upstream: "token",
    description: "An access token.",
    secret: true,
  }),
});

const needsWorkers = defineRule<z.output<typeof Schema>>("needs-workers", (c) =>
  c.persistentWorkers && c.numWorkers === 0
    ? [
        {
          severity: "error",
          field: "persistentWorkers",
          message: "requires numWorkers > 0",
          hint: "Set numWorkers.",
        },
      ]
    : [],
);
const bigBatch = defineRule<z.output<typeof Schema>>("big-batch", (c) =>
  c.batchSize > 512
    ? [{ severity: "warning", code: "SUSPICIOUS_VALUE", field: "batchSize", message: "is large" }]
    : [],
);
const section = createSection("training", Schema, [needsWorkers, bigBatch]);

function messageOf(input: unknown, origin?: (field: string) => string | undefined): string {
  const result = section.safeParse(input, origin ? { describeOrigin: origin } : {});
  if (result.success) throw new Error("expected a failure");
  return result.error.message;
}

describe("createSection", () => {
  it("fills defaults, maps aliases and value aliases, and warns about deprecated names", () => {
    const warnings: ConfigWarning[] = [];
    const config = section.parse({ batch: 32, activation: "silu" }, { onWarning: (w) => warnings.push(w) });
    expect(config).toEqual({
      batchSize: 32,
      numWorkers: 0,
      persistentWorkers: false,
      activation: "swish",
      token: null,
    });
    expect(warnings).toEqual([
      {
        code: "DEPRECATED_NAME",
        path: "training.batchSize",
        message: '"batch" is deprecated; use "batchSize" instead.',
      },
    ]);
    expect(section.safeParse({ bs: 8 })).toEqual({
      success: true,
      data: { ...config, batchSize: 8, activation: "relu" },
      warnings: [],
    });
  });

  it("lists every schema problem at once, with origins and a did-you-mean", () => {
    expect(
      messageOf({ batchSize: -4, numWorker: 2, activation: "tanh" }, (f) =>
        f === "batchSize" ? "--batch-size on the command line" : undefined,
      ),
    ).toMatchInlineSnapshot(`
      "3 problems:
        - training.batchSize: must be > 0, got -4 (from --batch-size on the command line).
        - training.activation: must be one of "relu", "swish", got "tanh".
        - training.numWorker: is not a known setting, got 2. Did you mean "numWorkers"?"
    `);
  });

  it("refuses an alias set beside its field", () => {
    const result = section.safeParse({ batch: 8, batchSize: 16 });
    expect(result.success).toBe(false);
    expect(result.success ? undefined : result.error.code).toBe("ALIAS_CONFLICT");
    expect(result.success ? "" : result.error.message).toMatchInlineSnapshot(
      `"training.batchSize: is set twice, as "batchSize" and as "batch". Keep only "batchSize"."`,
    );
  });

  it("refuses a section that is not a mapping", () => {
    expect(messageOf([1, 2])).toMatchInlineSnapshot(
      `"training: must be a mapping of setting names to values, got [1,2]."`,
    );
  });

  it("runs rules only after the schema passes, errors apart from warnings", () => {
    expect(messageOf({ persistentWorkers: true })).toMatchInlineSnapshot(
      `"training.persistentWorkers: requires numWorkers > 0, got true. Set numWorkers."`,
    );
    const result = section.safeParse({ batchSize: 1024 });
    expect(result.success).toBe(true);
    expect(result.warnings).toEqual([
      { code: "SUSPICIOUS_VALUE", path: "training.batchSize", message: "is large" },
    ]);
    // a schema failure hides the rules: no rule error for persistentWorkers here
    expect(messageOf({ persistentWorkers: true, batchSize: 0 })).not.toContain("requires numWorkers");
  });

  it("never shows a secret field's value", () => {
    const message = messageOf({ token: "short" });
    expect(message).toContain("training.token");
    expect(message).not.toContain("short");
  });

  it("throws a coded ConfigError from parse", () => {
    let thrown: unknown;
    try {
      section.parse({ numWorkers: "2" });
    } catch (error) {
      thrown = error;
    }
    expect(isConfigError(thrown, "INVALID_VALUE")).toBe(true);
  });

  it("gives -0 back as 0, so a parsed value equals its JSON round trip", () => {
    const NumberSchema = z.strictObject({
      x: defineField(z.number().default(1), { group: "training", upstream: "x", description: "x." }),
    });
    const data = createSection("s", NumberSchema, []).parse({ x: -0 });
    expect(Object.is(data.x, 0)).toBe(true);
  });
});

describe("normalizeSection", () => {
  it("renames aliases and records what the user wrote, leaving unknown keys for the schema", () => {
    const result = normalizeSection(Schema, { bs: 4, other: 1 }, "training");
    expect(result.value).toEqual({ batchSize: 4, other: 1 });
    expect([...result.renamed]).toEqual([["batchSize", "bs"]]);
    expect(result.issues).toEqual([]);
  });
});

describe("sectionJsonSchema", () => {
  it("lists aliases as properties, deprecated ones marked, without a default", () => {
    const json = sectionJsonSchema(Schema, "Training") as {
      title: string;
      properties: Record<string, Record<string, unknown>>;
    };
    expect(json.title).toBe("Training");
    expect(json.properties.batchSize?.default).toBe(16);
    expect(json.properties.batch).toMatchObject({ deprecated: true, type: "integer" });
    expect(json.properties.batch?.default).toBeUndefined();
    expect(json.properties.bs?.deprecated).toBeUndefined();
    expect(String(json.properties.bs?.description)).toMatch(/^Alias of "batchSize"/);
  });
});
