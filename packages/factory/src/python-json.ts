// JSON for Python readers: the legacy dictionary's consumers (and trainers of the payload dialect)
// are Python programs, for which `4` is an int and `4.0` a float. Fields whose schema is a float
// (kind "number") are written with a decimal point when their value is integral (nphotons 1e9 ->
// 1000000000.0, probeScale 4 -> 4.0), so `json.load` gives a float, as upstream's dataclasses hold.
import { listFields } from "@trainkit/config-meta";
import type { AnyPayload } from "./payload.ts";
import { PAYLOAD_SPECS } from "./payload-spec.ts";

const MARK = "\u0000float:";

function floatLiteral(value: number): string {
  const text = String(value);
  return Number.isInteger(value) && /^-?\d+$/.test(text) ? `${text}.0` : text;
}

/** Like `JSON.stringify(value, null, 2)`, with the numbers `isFloat` picks written as floats. */
export function stringifyWithFloats(value: unknown, isFloat: (path: readonly string[]) => boolean): string {
  const path: string[] = [];
  const mark = (node: unknown): unknown => {
    if (typeof node === "number")
      return isFloat(path) && Number.isFinite(node) ? `${MARK}${floatLiteral(node)}` : node;
    if (Array.isArray(node)) return node.map((item, i) => withKey(String(i), item));
    if (node !== null && typeof node === "object") {
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, withKey(k, v)]));
    }
    return node;
  };
  const withKey = (key: string, node: unknown): unknown => {
    path.push(key);
    const out = mark(node);
    path.pop();
    return out;
  };
  return JSON.stringify(mark(value), null, 2).replace(/"\\u0000float:([^"]+)"/g, "$1");
}

const floatFields = new Map<AnyPayload["kind"], { paths: Set<string>; legacyKeys: Set<string> }>();

function floatsOf(kind: AnyPayload["kind"]) {
  let found = floatFields.get(kind);
  if (!found) {
    found = { paths: new Set(), legacyKeys: new Set() };
    for (const [section, spec] of Object.entries(PAYLOAD_SPECS[kind].sections)) {
      for (const field of listFields(spec.schema)) {
        if (field.kind !== "number") continue;
        found.paths.add(`${section}.${field.key}`);
        if (field.legacyKey !== null) found.legacyKeys.add(field.legacyKey);
      }
    }
    floatFields.set(kind, found);
  }
  return found;
}

/**
 * payload.json text (`{ kind, config }`), floats as floats. The same bytes as `stringifyWithFloats`
 * over the document (a property test holds them equal), made in one pass over the two-space JSON,
 * where a float field's integral value sits alone on its line (`      "probeScale": 4,`): several
 * times faster, which counts for a study of many jobs.
 */
export function payloadJson(kind: AnyPayload["kind"], document: unknown): string {
  const { paths } = floatsOf(kind);
  const lines = JSON.stringify(document, null, 2).split("\n");
  let section: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const open = /^ {4}"([^"]+)": \{$/.exec(line);
    if (open) {
      section = open[1];
      continue;
    }
    if (line === "    }," || line === "    }") {
      section = undefined;
      continue;
    }
    if (section === undefined) continue;
    const field = /^ {6}"([^"]+)": (-?\d+)(,?)$/.exec(line);
    if (field && paths.has(`${section}.${field[1]}`))
      lines[i] = `      "${field[1]}": ${field[2]}.0${field[3]}`;
  }
  return `${lines.join("\n")}\n`;
}

/** legacy-params.json text, floats as floats. */
export function legacyJson(kind: AnyPayload["kind"], legacy: unknown): string {
  const { legacyKeys } = floatsOf(kind);
  return `${stringifyWithFloats(legacy, (p) => p.length === 1 && legacyKeys.has(p[0]!))}\n`;
}
