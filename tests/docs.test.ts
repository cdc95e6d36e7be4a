import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { writeDataset } from "../packages/factory/test/helpers.ts";
import { splitCommand } from "../packages/launcher/src/index.ts";
import {
  CLI_REFERENCE_MARKER,
  embedExamples,
  examplesOf,
  REFERENCE_MARKER,
  renderCliReference,
  renderFieldReference,
} from "../scripts/schemas.ts";
import { embedSupportTables, supportTablesOf } from "../scripts/support-tables.ts";
import { run, tempDir } from "./helpers.ts";

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

describe.each([
  ["engine.md", ["embedded"]],
  ["backends.md", ["payload", "ptycho-torch"]],
])("docs/%s", (name, tables) => {
  it("holds the support tables generated from the backends' own tables (run `pnpm gen`)", () => {
    const doc = readFileSync(new URL(`../docs/${name}`, import.meta.url), "utf8");
    expect(supportTablesOf(doc)).toEqual(tables);
    expect(embedSupportTables(doc)).toBe(doc);
  });
});

describe("docs/cli.md", () => {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const doc = readFileSync(join(root, "docs/cli.md"), "utf8");

  it("holds the flag reference generated from the metadata (run `pnpm gen`)", async () => {
    const at = doc.indexOf(CLI_REFERENCE_MARKER);
    expect(at).toBeGreaterThan(0);
    expect(doc.slice(at)).toBe(await renderCliReference());
  });
});

describe.each(["cli.md", "backends.md"])("the worked examples of docs/%s", (name) => {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const doc = readFileSync(join(root, "docs", name), "utf8");
  const files = [...doc.matchAll(/<!-- file: (\S+) -->\n```\w*\n([\s\S]*?)```/g)].map(
    (m) => [m[1]!, m[2]!] as const,
  );
  const examples = [...doc.matchAll(/<!-- cli-example -->\n```console\n\$ (.*)\n([\s\S]*?)```/g)].map(
    (m) => [m[1]!, m[2]!] as const,
  );
  const cwd = tempDir("trainkit-doc-");
  const ready = (async () => {
    await writeDataset(join(cwd, "train.npz"), { N: 64, M: 8 });
    for (const [file, content] of files) writeFileSync(join(cwd, file), content);
    cpSync(join(root, "tests/fixtures/fake-ptycho-torch"), join(cwd, "fake-ptycho-torch"), {
      recursive: true,
    });
  })();

  it("has examples", () => expect(examples.length).toBeGreaterThan(0));

  it.each(examples)("runs `%s` with the documented output", async (command, expected) => {
    await ready;
    const words = splitCommand(command);
    const env: Record<string, string> = {};
    while (/^[A-Z_]+=/.test(words[0] ?? "")) {
      const [variable, value] = words.shift()!.split("=") as [string, string];
      env[variable] = value;
    }
    const program = words.shift() === "trainkit-infer" ? "infer" : "train";
    rmSync(join(cwd, "run"), { recursive: true, force: true });
    const result = run(program, words, { cwd, env });
    const output =
      result.stdout + result.stderr + (result.status === 0 ? "" : `(exit code ${result.status})\n`);
    expect(output.replace(/pid \d+/g, "pid N")).toBe(expected);
  });
});
