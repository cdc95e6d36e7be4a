// Bundles each command into one ESM file (dist/bin.js) so it starts fast: one file to load instead
// of hundreds of modules. TensorFlow.js stays external and the engine lands in a separate chunk that
// is imported only when a run starts.
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const targets =
  process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["train-cli", "infer-cli", "study-cli"];

export async function bundle(name) {
  const dir = join(root, "packages", name);
  rmSync(join(dir, "dist"), { recursive: true, force: true });
  mkdirSync(join(dir, "dist"), { recursive: true });
  await build({
    absWorkingDir: dir,
    entryPoints: { bin: "src/bin.ts" },
    outdir: "dist",
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    conditions: ["@trainkit/source"],
    // vega and vega-lite are imported when a figure is drawn; resvg is a native addon (a .node file per
    // platform, which no bundle can hold).
    external: ["@tensorflow/*", "@resvg/resvg-js", "cli-progress", "yaml", "vega", "vega-lite"],
    minify: true,
    sourcemap: "linked",
    legalComments: "none",
    logLevel: "warning",
    banner: {
      js: "import{createRequire as __trainkitRequire}from'node:module';const require=__trainkitRequire(import.meta.url);",
    },
  });
  // Render --help once, through the bundle itself, so the command prints it without loading anything.
  const help = execFileSync(process.execPath, [join(dir, "dist/bin.js"), "--help"], { encoding: "utf8" });
  writeFileSync(join(dir, "dist/help.txt"), help);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const name of targets) await bundle(name);
}
