// The backends' support tables: complete (also type-checked), honest about who reads each value, and
// what the launcher checks.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { listFields, type Support } from "@trainkit/config-meta";
import { EMBEDDED_SUPPORT } from "@trainkit/engine/capabilities";
import { createTrainingPayload, PAYLOAD_SPECS } from "@trainkit/factory";
import {
  checkCapabilities,
  embeddedBackend,
  PAYLOAD_DIALECT_SUPPORT,
  PTYCHO_TORCH_SUPPORT,
} from "@trainkit/launcher";
import { describe, expect, it } from "vitest";
import { CPU_PIPE, writeDataset } from "../packages/factory/test/helpers.ts";
import { ROOT, tempDir } from "./helpers.ts";

type Table = Readonly<Record<string, Readonly<Record<string, Support>>>>;
const TABLES: readonly [string, "training" | "inference", Table][] = [
  ["embedded", "training", EMBEDDED_SUPPORT as unknown as Table],
  ["embedded", "inference", EMBEDDED_SUPPORT as unknown as Table],
  ["payload", "training", PAYLOAD_DIALECT_SUPPORT.training as unknown as Table],
  ["payload", "inference", PAYLOAD_DIALECT_SUPPORT.inference as unknown as Table],
  ["ptycho-torch", "training", PTYCHO_TORCH_SUPPORT.training as unknown as Table],
  ["ptycho-torch", "inference", PTYCHO_TORCH_SUPPORT.inference as unknown as Table],
];

describe("the support tables", () => {
  it.each(TABLES)("%s (%s) has an entry for every field of every section", (_name, kind, table) => {
    const missing: string[] = [];
    for (const [section, spec] of Object.entries(PAYLOAD_SPECS[kind].sections))
      for (const field of listFields(spec.schema))
        if (!table[section]?.[field.key]) missing.push(`${section}.${field.key}`);
    expect(missing).toEqual([]);
  });

  it("names, for every field the embedded engine honours, a source file that reads it", () => {
    const wrong: string[] = [];
    for (const [section, entries] of Object.entries(EMBEDDED_SUPPORT as unknown as Table)) {
      for (const [key, entry] of Object.entries(entries)) {
        if (entry.kind !== "honoured") continue;
        const [file, symbol] = /^(\S+)(?: \((\S+)[^)]*\))?/.exec(entry.readBy)!.slice(1);
        const path = join(ROOT, file!);
        if (!existsSync(path)) {
          wrong.push(`${section}.${key}: ${file} does not exist`);
          continue;
        }
        const text = readFileSync(path, "utf8");
        if (!text.includes(key) && !(symbol && text.includes(symbol)))
          wrong.push(`${section}.${key}: ${file} mentions neither ${key} nor ${symbol}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("makes the embedded backend refuse what its table refuses, naming the field and origin", async () => {
    const dir = tempDir("trainkit-support-");
    const train = await writeDataset(join(dir, "train.npz"), { N: 64, M: 8 });
    const payload = await createTrainingPayload({
      trainDataFile: train,
      outputDir: join(dir, "run"),
      overrides: { model: { fnoModes: 16 }, training: { nGroups: 8, backend: "pytorch" } },
      execution: { pinMemory: true, precision: "bf16-mixed" },
      environment: CPU_PIPE,
    });
    const error = await checkCapabilities(payload, embeddedBackend).catch((e: Error) => e);
    expect((error as Error).message).toMatchInlineSnapshot(`
      "The embedded backend cannot honour 4 settings:
        - model.fnoModes = 16 (from the overrides argument): supported only its default 12: FNO-family generators only; the embedded engine builds the CNN, which has no such setting. Use --backend process with a trainer that supports it (see docs/backends.md).
        - training.backend = "pytorch" (from the overrides argument): supported "tensorflow". Use --backend process with a trainer that supports it (see docs/backends.md).
        - execution.precision = "bf16-mixed" (from the execution argument): supported "32-true". Use --backend process with a trainer that supports it (see docs/backends.md).
        - execution.pinMemory = true (from the execution argument): supported only its default false: no GPU: pinned host memory only speeds up copies to a GPU. Use --backend process with a trainer that supports it (see docs/backends.md)."
    `);
  });
});
