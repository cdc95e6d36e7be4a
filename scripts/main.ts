// The main job (README Quick start): resolve and print the default execution config.
import { relative } from "node:path";
import { EXECUTION_DEFAULTS, parseExecutionConfig } from "@trainkit/execution-config";
import { SCHEMA_FILES } from "./schemas.ts";

const resolved = parseExecutionConfig({});
console.log("Resolved default execution config:");
console.log(JSON.stringify(resolved, null, 2));
if (JSON.stringify(resolved) !== JSON.stringify(EXECUTION_DEFAULTS)) throw new Error("defaults drifted");
console.log("\nJSON Schemas (point your editor's YAML/JSON validation at them):");
for (const file of SCHEMA_FILES)
  console.log(`  ${file.title.padEnd(28)} ${relative(process.cwd(), file.path) || file.path}`);
