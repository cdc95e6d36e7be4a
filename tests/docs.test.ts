import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { embedExamples, examplesOf, REFERENCE_MARKER, renderFieldReference } from "../scripts/schemas.ts";

describe("docs/configuration.md", () => {
  it("holds the field reference generated from the schema metadata (run `pnpm gen` after a schema change)", () => {
    const doc = readFileSync(new URL("../docs/configuration.md", import.meta.url), "utf8");
    const at = doc.indexOf(REFERENCE_MARKER);
    expect(at).toBeGreaterThan(0);
    expect(doc.slice(at)).toBe(renderFieldReference());
  });
});

describe.each(["precedence.md", "legacy-bridge.md"])("docs/%s", (name) => {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const doc = readFileSync(join(root, "docs", name), "utf8");

  it("embeds its examples verbatim (run `pnpm gen` after editing docs/examples)", () => {
    expect(examplesOf(doc).length).toBeGreaterThan(0);
    expect(embedExamples(doc, root)).toBe(doc);
  });

  it.each(examplesOf(doc))("runs %s without a failed assertion", async (file) => {
    await expect(import(join(root, file))).resolves.toBeDefined();
  });
});
