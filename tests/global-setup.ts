// Bundles the two commands before the end-to-end tests, as `pnpm build` does for users, unless the
// bundle is newer than every source file it is made of (so concurrent test runs do not rebuild it
// under each other's feet).
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundle } from "../scripts/bundle-bins.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name === "dist" || entry.name === "test") continue;
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

export default async function setup(): Promise<void> {
  const sources = Math.max(
    newestSource(join(root, "packages")),
    statSync(join(root, "scripts/bundle-bins.mjs")).mtimeMs,
  );
  for (const name of ["train-cli", "infer-cli", "study-cli"]) {
    const built = (() => {
      try {
        return statSync(join(root, "packages", name, "dist/help.txt")).mtimeMs;
      } catch {
        return 0;
      }
    })();
    if (built < sources) await bundle(name);
  }
}
