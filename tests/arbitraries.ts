// Hand-written fast-check arbitraries for config sections (zod-fast-check does not support zod 4).
// Values are drawn per field from its kind and then kept only if the field's own schema accepts them.
import { type FieldInfo, listFields } from "@trainkit/config-meta";
import fc from "fast-check";
import type * as z from "zod";

const interestingNumbers = [0, 1, 2, 4, 16, 64, 128, 256, 512, 0.5, 0.1, 0.999, 1e-3, 1e9, -1, 3];

function valueArbitrary(field: FieldInfo): fc.Arbitrary<unknown> {
  let base: fc.Arbitrary<unknown>;
  switch (field.kind) {
    case "boolean":
      base = fc.boolean();
      break;
    case "integer":
      base = fc.oneof(
        fc.constantFrom(...interestingNumbers.filter(Number.isInteger)),
        fc.integer({ min: -2, max: 2000 }),
      );
      break;
    case "number":
      base = fc.oneof(
        fc.constantFrom(...interestingNumbers),
        fc.double({ min: -1, max: 1e10, noNaN: true, noDefaultInfinity: true }),
      );
      break;
    case "enum":
      base = fc.constantFrom(...field.choices);
      break;
    case "union":
      base = fc.oneof(fc.constantFrom(...field.choices), fc.integer({ min: 0, max: 8 }), fc.boolean());
      break;
    case "array":
      base = fc
        .uniqueArray(fc.integer({ min: 1, max: 500 }), { maxLength: 4 })
        .map((a) => a.sort((x, y) => x - y));
      break;
    default:
      base = fc.oneof(
        fc.constantFrom("a.npz", "runs/x", "val_loss", "ddp"),
        fc.string({ minLength: 1, maxLength: 12 }),
      );
  }
  const withNull = field.nullable ? fc.oneof(base, fc.constant(null)) : base;
  return withNull.filter((v) => field.schema.safeParse(v).success);
}

/** A random partial input for a section: each field present or absent, each present value field-valid. */
export function sectionInput(
  section: z.ZodObject,
  required: Readonly<Record<string, fc.Arbitrary<unknown>>> = {},
): fc.Arbitrary<Record<string, unknown>> {
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const field of listFields(section)) record[field.key] = required[field.key] ?? valueArbitrary(field);
  return fc.record(record, { requiredKeys: Object.keys(required) });
}
