#!/usr/bin/env node
// The installed command. The program is the bundle in ../dist (built by `pnpm build`).
import { existsSync } from "node:fs";

const dist = new URL("../dist/", import.meta.url);
if (!existsSync(new URL("bin.js", dist))) {
  process.stderr.write("trainkit-study is not built yet: run `pnpm build` in the trainkit checkout.\n");
  process.exitCode = 1;
} else {
  await import(new URL("bin.js", dist).href);
}
