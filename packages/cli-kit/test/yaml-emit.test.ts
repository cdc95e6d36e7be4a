import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { emitSectionsYaml } from "../src/yaml-emit.ts";

describe("emitSectionsYaml", () => {
  it("writes YAML that a YAML parser reads back to the same values", () => {
    const scalar = fc.oneof(
      fc.string(),
      fc.constantFrom(
        "true",
        "no",
        "null",
        "1e9",
        "0x10",
        "-",
        "a: b",
        "#x",
        "runs/a b",
        "~",
        "",
        "Default",
        "32-true",
      ),
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (Object.is(n, -0) ? 0 : n)),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
    );
    const doc = fc.dictionary(
      fc.constantFrom("model", "training", "execution"),
      fc.dictionary(
        fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9]{0,10}$/),
        fc.oneof(scalar, fc.array(fc.integer(), { maxLength: 3 })),
      ),
    );
    fc.assert(
      fc.property(doc, (document) => {
        expect(parse(emitSectionsYaml(document)) ?? {}).toEqual(
          Object.keys(document).length === 0 ? {} : JSON.parse(JSON.stringify(document)),
        );
      }),
      { numRuns: 300 },
    );
  });
});
