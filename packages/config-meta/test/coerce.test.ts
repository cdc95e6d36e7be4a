import { describe, expect, it } from "vitest";
import * as z from "zod";
import { type CoerceResult, coerceFieldValue, defineField, type FieldInfo, getField } from "../src/index.ts";

const meta = { group: "training", upstream: "x", description: "x." } as const;
const Schema = z.strictObject({
  flag: defineField(z.boolean().default(false), meta),
  count: defineField(z.int().min(0).default(0), meta),
  rate: defineField(z.number().positive().default(1e-3), meta),
  size: defineField(z.union([z.literal(32), z.literal(64)]).default(64), meta),
  mode: defineField(z.enum(["min", "max"]).default("min"), meta),
  milestones: defineField(z.array(z.int()).default([]), meta),
  devices: defineField(z.union([z.literal("auto"), z.int().positive()]).default("auto"), meta),
  clip: defineField(z.number().nullable().default(null), meta),
  name: defineField(z.string().default("run"), meta),
});

function field(key: keyof typeof Schema.shape): FieldInfo {
  const found = getField(Schema, key);
  if (!found) throw new Error(`no field ${key}`);
  return found;
}
const coerce = (key: keyof typeof Schema.shape, raw: string): CoerceResult =>
  coerceFieldValue(field(key), raw);
const value = (result: CoerceResult): unknown => (result.ok ? result.value : `error: ${result.message}`);

describe("coerceFieldValue", () => {
  it("reads booleans only from true/false/1/0/yes/no, in any case", () => {
    expect(["true", "1", "YES", " no ", "False", "0"].map((raw) => value(coerce("flag", raw)))).toEqual([
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
    expect(value(coerce("flag", "flase"))).toBe("error: must be true or false (or 1/0, yes/no)");
    expect(value(coerce("flag", ""))).toBe("error: must be true or false (or 1/0, yes/no)");
  });

  it("reads numbers with exponents but not NaN, infinity, hex or trailing words", () => {
    expect(value(coerce("rate", "1e-5"))).toBe(1e-5);
    expect(value(coerce("rate", ".5"))).toBe(0.5);
    expect(value(coerce("rate", "-2."))).toBe(-2);
    for (const raw of ["NaN", "inf", "Infinity", "0x10", "3 epochs", "", "1e999"]) {
      expect(value(coerce("rate", raw)), raw).toBe("error: must be a finite number");
    }
  });

  it("reads integers and refuses fractions", () => {
    expect(value(coerce("count", "12"))).toBe(12);
    expect(value(coerce("count", "1e2"))).toBe(100);
    expect(value(coerce("count", "2.5"))).toBe("error: must be an integer");
    expect(value(coerce("count", "two"))).toBe("error: must be an integer");
  });

  it("reads numeric enums as numbers and leaves string enums to the schema", () => {
    expect(value(coerce("size", "64"))).toBe(64);
    expect(value(coerce("size", "sixty"))).toBe("error: must be an integer");
    expect(value(coerce("mode", "max"))).toBe("max");
    expect(value(coerce("mode", "median"))).toBe("median");
  });

  it("reads lists as 10,20 or [10, 20], and an empty list", () => {
    expect(value(coerce("milestones", "10,20"))).toEqual([10, 20]);
    expect(value(coerce("milestones", "[10, 20]"))).toEqual([10, 20]);
    expect(value(coerce("milestones", "[]"))).toEqual([]);
    expect(value(coerce("milestones", "10,x"))).toBe("error: must be a comma-separated list of integers");
  });

  it("reads a union as one of its literals, else a number, else the text", () => {
    expect(value(coerce("devices", "auto"))).toBe("auto");
    expect(value(coerce("devices", "4"))).toBe(4);
    expect(value(coerce("devices", "many"))).toBe("many");
  });

  it("reads null and None as null only where the field is nullable", () => {
    expect(value(coerce("clip", "null"))).toBeNull();
    expect(value(coerce("clip", " None "))).toBeNull();
    expect(value(coerce("clip", "0.5"))).toBe(0.5);
    expect(value(coerce("name", "null"))).toBe("null");
    expect(value(coerce("count", "null"))).toBe("error: must be an integer");
  });
});
