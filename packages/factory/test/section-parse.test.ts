// The resolver parses a section field by field (each field's parse of a primitive remembered) and
// keys its cache of parsed sections by the values set above the defaults. Both must give exactly
// what the section's zod schema gives, key order included, and must never answer for an input the
// schema would refuse.
import { listFields } from "@trainkit/config-meta";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sectionInput } from "../../../tests/arbitraries.ts";
import { resolvePayload } from "../src/index.ts";
import { PAYLOAD_SPECS } from "../src/payload-spec.ts";
import { fieldwise } from "../src/resolve.ts";

const SECTIONS = [
  ...Object.entries(PAYLOAD_SPECS.training.sections),
  ...Object.entries(PAYLOAD_SPECS.inference.sections).filter(([name]) => name === "inference"),
];

/** Any value at all: the wrong type, out of range, NaN, nested objects. */
const wild = fc.oneof(
  fc.anything(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, -1, 0, 1e300, "", "auto", null),
);

describe("field-by-field section parsing", () => {
  for (const [name, section] of SECTIONS) {
    it(`${name}: gives the schema's output for any valid input, key order included`, () => {
      fc.assert(
        fc.property(sectionInput(section.schema), (input) => {
          const parsed = section.schema.safeParse(input);
          const mine = fieldwise(section, input);
          if (!parsed.success) {
            expect(mine).toBeUndefined();
            return;
          }
          // A required field left out is for the schema to report, so it gives way.
          if (mine === undefined) return;
          expect(JSON.stringify(mine)).toBe(JSON.stringify(parsed.data));
          expect(mine).toEqual(parsed.data);
        }),
        { numRuns: Number(process.env.RUNS ?? 300) },
      );
    });

    it(`${name}: never answers for an input the schema refuses`, () => {
      const keys = listFields(section.schema).map((f) => f.key);
      const input = fc
        .tuple(sectionInput(section.schema), fc.subarray(keys), fc.array(wild, { minLength: keys.length }))
        .map(([valid, spoilt, values]) => {
          const out: Record<string, unknown> = { ...valid };
          spoilt.forEach((key, i) => {
            out[key] = values[i];
          });
          return out;
        });
      const withUnknown = fc
        .tuple(input, fc.boolean())
        .map(([out, extra]) => (extra ? { ...out, zz: 1 } : out));
      fc.assert(
        fc.property(withUnknown, (candidate) => {
          const parsed = section.schema.safeParse(candidate);
          const mine = fieldwise(section, candidate);
          if (!parsed.success) expect(mine).toBeUndefined();
          else if (mine !== undefined) expect(JSON.stringify(mine)).toBe(JSON.stringify(parsed.data));
        }),
        { numRuns: Number(process.env.RUNS ?? 300) },
      );
    });
  }
});

describe("the cache of parsed sections", () => {
  const layer = (entries: Record<string, unknown>) => [
    {
      level: "override" as const,
      entries: Object.entries({ "training.trainDataFile": "t.npz", "training.nGroups": 16, ...entries }).map(
        ([path, value]) => ({ path, value, origin: { kind: "code" as const, argument: path } }),
      ),
    },
  ];

  it("tells apart inputs that differ only in a value JSON writes alike or not at all", () => {
    // 1e21 and 1e+21 are one number; 0 and -0 are stored alike; an explicit default equals none.
    const a = resolvePayload("training", layer({ "training.nphotons": 1e21 }));
    const b = resolvePayload("training", layer({ "training.nphotons": 1e9 }));
    expect(a.config.training.nphotons).toBe(1e21);
    expect(b.config.training.nphotons).toBe(1e9);
    const c = resolvePayload("training", layer({ "execution.seed": -0 }));
    expect(Object.is(c.config.execution.seed, 0)).toBe(true);
  });

  it("gives every job its own values when thousands share all but one section", () => {
    for (let i = 0; i < 2_000; i++) {
      const payload = resolvePayload(
        "training",
        layer({ "training.outputDir": `runs/${i}`, "execution.learningRate": (1 + (i % 7)) * 1e-4 }),
      );
      expect(payload.config.training.outputDir).toBe(`runs/${i}`);
      expect(payload.config.execution.learningRate).toBe((1 + (i % 7)) * 1e-4);
      const entry = (path: string) => payload.audit.find((a) => a.path === path);
      expect(entry("training.outputDir")?.value).toBe(`runs/${i}`);
      expect(entry("execution.learningRate")).toMatchObject({
        value: (1 + (i % 7)) * 1e-4,
        level: "override",
        shadowed: [{ level: "default" }],
      });
    }
  });

  it("shares the audit entry of a value one origin sets, and only while value and level agree", () => {
    const origin = { kind: "file" as const, file: "base.yaml", line: 3, column: 5 };
    const at = (level: "config" | "override", value: number) =>
      resolvePayload("training", [
        ...layer({}),
        { level, entries: [{ path: "training.batchSize", value, origin }] },
      ]).audit.find((a) => a.path === "training.batchSize");
    const first = at("config", 32);
    expect(at("config", 32)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(at("config", 64)).toMatchObject({ value: 64, level: "config", origin });
    expect(at("override", 32)).toMatchObject({ value: 32, level: "override" });
  });
});
