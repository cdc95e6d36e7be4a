#!/usr/bin/env node
// The installed command. The program itself is the bundle in ../dist (built by `pnpm build`).
import { existsSync } from "node:fs";

const bundle = new URL("../dist/bin.js", import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write("trainkit-train is not built yet: run `pnpm build` in the trainkit checkout.\n");
  process.exitCode = 1;
} else {
  await import(bundle.href);
}
