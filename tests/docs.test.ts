import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { REFERENCE_MARKER, renderFieldReference } from "../scripts/schemas.ts";

describe("docs/configuration.md", () => {
  it("holds the field reference generated from the schema metadata (run `pnpm gen` after a schema change)", () => {
    const doc = readFileSync(new URL("../docs/configuration.md", import.meta.url), "utf8");
    const at = doc.indexOf(REFERENCE_MARKER);
    expect(at).toBeGreaterThan(0);
    expect(doc.slice(at)).toBe(renderFieldReference());
  });
});
