import type { Node } from "yaml";
import { FactoryError } from "./errors.ts";
import type { Layer, LayerEntry } from "./layer.ts";

/** Parses the text of a YAML or JSON config file into a layer, keeping the line and column of every value. */
export async function parseConfigText(text: string, file: string): Promise<Layer> {
  // The YAML parser is the largest dependency: it is loaded only when a config file is read.
  const { isAlias, isMap, isScalar, LineCounter, parseDocument, visit } = await import("yaml");
  const lineCounter = new LineCounter();
  // Keys are checked for uniqueness below with one Set per mapping: the parser's own check
  // (`uniqueKeys: true`) compares each key with every earlier one, so 64,000 keys took minutes.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false, version: "1.2" });
  const problem = doc.errors[0];
  if (problem) {
    const pos = lineCounter.linePos(problem.pos[0]);
    const first = problem.message.split("\n")[0] ?? problem.message;
    throw new FactoryError("SOURCE_MALFORMED", `${file}:${pos.line}:${pos.col}: ${first}`, {
      cause: problem,
    });
  }
  // Anchors, aliases and `<<` merge keys are refused (docs/decisions.md, "YAML anchors"): an alias
  // would give the value an origin far from the line that uses it, and expansion is unbounded.
  let refused: { node: Node; what: string } | undefined;
  let duplicate: { node: Node; key: string; first: Node } | undefined;
  visit(doc, (key, node) => {
    if (refused || duplicate) return visit.BREAK;
    if (node === null || typeof node !== "object") return undefined;
    if (isMap(node)) {
      const seen = new Map<string, Node>();
      for (const pair of node.items) {
        const keyNode = pair.key as Node | null;
        const name = isScalar(keyNode) ? String(keyNode.value) : JSON.stringify(keyNode?.toJSON() ?? null);
        const first = seen.get(name);
        if (first && keyNode) {
          duplicate = { node: keyNode, key: name, first };
          return visit.BREAK;
        }
        if (keyNode) seen.set(name, keyNode);
      }
    }
    if (isAlias(node)) refused = { node, what: `the alias *${node.source}` };
    else if ((node as { anchor?: string }).anchor)
      refused = { node: node as Node, what: `the anchor &${(node as { anchor?: string }).anchor}` };
    else if (isScalar(node) && key === "key" && node.value === "<<")
      refused = { node, what: "the merge key <<" };
    return undefined;
  });
  if (duplicate) {
    const pos = lineCounter.linePos(duplicate.node.range?.[0] ?? 0);
    const first = lineCounter.linePos(duplicate.first.range?.[0] ?? 0);
    throw new FactoryError(
      "SOURCE_MALFORMED",
      `${file}:${pos.line}:${pos.col}: map keys must be unique: ${duplicate.key} is already set at line ${first.line}, column ${first.col}.`,
    );
  }
  if (refused) {
    const pos = lineCounter.linePos(refused.node.range?.[0] ?? 0);
    throw new FactoryError(
      "SOURCE_MALFORMED",
      `${file}:${pos.line}:${pos.col}: ${refused.what} is not supported: trainkit config files do not use YAML anchors, aliases or merge keys (write the values out, or use several --config files: later files win).`,
    );
  }
  const at = (node: Node | null | undefined) => {
    const pos = lineCounter.linePos(node?.range?.[0] ?? 0);
    return { kind: "file" as const, file, line: pos.line, column: pos.col };
  };
  const entries: LayerEntry[] = [];
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return { level: "config", entries };
  if (!isMap(root)) {
    throw new FactoryError(
      "SOURCE_MALFORMED",
      `${file}:1:1: a config file must be a mapping of sections (model, training, inference, execution).`,
    );
  }
  for (const pair of root.items) {
    const section = String(isScalar(pair.key) ? pair.key.value : pair.key);
    const value = pair.value as Node | null;
    if (isMap(value)) {
      for (const inner of value.items) {
        const key = String(isScalar(inner.key) ? inner.key.value : inner.key);
        const node = inner.value as Node | null;
        entries.push({
          path: `${section}.${key}`,
          value: node ? node.toJSON() : null,
          origin: at(node ?? (inner.key as Node)),
        });
      }
    } else {
      entries.push({
        path: section,
        value: value ? value.toJSON() : null,
        origin: at(value ?? (pair.key as Node)),
      });
    }
  }
  return { level: "config", entries };
}
