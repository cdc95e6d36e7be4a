import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadFileSources, resolveLauncherSettings } from "../src/launcher-settings.ts";
import { parseArgv } from "../src/parse-argv.ts";

const dir = mkdtempSync(join(tmpdir(), "trainkit-launcher-settings-"));

describe("loadFileSources", () => {
  it("reads each --config file once, for the launcher settings and the factory alike", async () => {
    const a = join(dir, "a.yaml");
    const b = join(dir, "b.yaml");
    writeFileSync(a, "launcher:\n  backend: process\n  command: python3 train.py\ntraining:\n  nepochs: 3\n");
    writeFileSync(b, "launcher:\n  timeout: 30m\n");
    const args = await loadFileSources(parseArgv("training", ["--config", a, "--config", b], {}));
    // The files are gone: what follows can only use the layers read above.
    rmSync(a);
    rmSync(b);
    expect(
      args.sources.map((s) => (s.kind === "file" ? [s.path, s.layer?.entries.length] : [s.kind])),
    ).toEqual([[a, 3], [b, 1], ["env"]]);
    expect(await resolveLauncherSettings(args)).toMatchObject({
      backend: "process",
      command: "python3 train.py",
      timeout: 1800,
    });
  });

  it("refuses a file it cannot read, naming it", async () => {
    const missing = join(dir, "missing.yaml");
    await expect(loadFileSources(parseArgv("training", ["--config", missing], {}))).rejects.toMatchObject({
      name: "FactoryError",
      code: "SOURCE_NOT_FOUND",
    });
  });
});
