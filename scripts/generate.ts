// Regenerates the committed JSON Schemas and the field reference in docs/configuration.md.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CLI_REFERENCE_MARKER,
  embedExamples,
  REFERENCE_MARKER,
  renderCliReference,
  renderFieldReference,
  renderJsonSchema,
  SCHEMA_FILES,
} from "./schemas.ts";
import { embedSupportTables } from "./support-tables.ts";
import { compileTapProducts, renderTapProductsModule, TAP_PRODUCTS_MODULE } from "./wasm.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
writeFileSync(join(root, TAP_PRODUCTS_MODULE), renderTapProductsModule(compileTapProducts()));
console.log(`wrote ${TAP_PRODUCTS_MODULE}`);
for (const file of SCHEMA_FILES) {
  const target = join(root, file.path);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, renderJsonSchema(file.schema, file.title));
  console.log(`wrote ${file.path}`);
}
{
  const { studySpecJsonSchema } = await import("@trainkit/study");
  const target = join(root, "packages/study/schema/study-spec.schema.json");
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, `${JSON.stringify(studySpecJsonSchema(), null, 2)}\n`);
  console.log("wrote packages/study/schema/study-spec.schema.json");
}
const docPath = join(root, "docs/configuration.md");
const doc = readFileSync(docPath, "utf8");
const at = doc.indexOf(REFERENCE_MARKER);
const head = at === -1 ? `${doc.trimEnd()}\n\n` : doc.slice(0, at);
writeFileSync(docPath, head + renderFieldReference());
console.log("wrote docs/configuration.md");

for (const name of ["precedence.md", "legacy-bridge.md"]) {
  const path = join(root, "docs", name);
  writeFileSync(path, embedExamples(readFileSync(path, "utf8"), root));
  console.log(`wrote docs/${name}`);
}

const cliPath = join(root, "docs/cli.md");
const cliDoc = readFileSync(cliPath, "utf8");
const cliAt = cliDoc.indexOf(CLI_REFERENCE_MARKER);
writeFileSync(
  cliPath,
  (cliAt === -1 ? `${cliDoc.trimEnd()}\n\n` : cliDoc.slice(0, cliAt)) + (await renderCliReference()),
);
console.log("wrote docs/cli.md");

for (const name of ["engine.md", "backends.md"]) {
  const path = join(root, "docs", name);
  writeFileSync(path, embedSupportTables(readFileSync(path, "utf8")));
  console.log(`wrote docs/${name} (support tables)`);
}
