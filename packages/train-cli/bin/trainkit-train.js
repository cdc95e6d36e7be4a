#!/usr/bin/env node
// The installed command. The program is the bundle in ../dist (built by `pnpm build`); its help
// text, rendered from the schema metadata when it was bundled, is printed without loading anything.
import { existsSync, readFileSync } from "node:fs";

const dist = new URL("../dist/", import.meta.url);
const args = process.argv.slice(2);
if (!existsSync(new URL("bin.js", dist))) {
  process.stderr.write("trainkit-train is not built yet: run `pnpm build` in the trainkit checkout.\n");
  process.exitCode = 1;
} else if ((args.includes("--help") || args.includes("-h")) && existsSync(new URL("help.txt", dist))) {
  process.stdout.write(readFileSync(new URL("help.txt", dist), "utf8"));
} else {
  await import(new URL("bin.js", dist).href);
}
