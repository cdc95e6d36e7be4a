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

const floatFields = new Map<
  AnyPayload["kind"],
  {
    paths: Set<string>;
    /** Per section with float fields: its header line and its float fields with their line starts. */
    sections: { name: string; header: string; fields: { key: string; prefix: string }[] }[];
    legacyKeys: Set<string>;
  }
>();

function floatsOf(kind: AnyPayload["kind"]) {
  let found = floatFields.get(kind);
  if (!found) {
    found = { paths: new Set(), sections: [], legacyKeys: new Set() };
    for (const [section, spec] of Object.entries(PAYLOAD_SPECS[kind].sections)) {
      const fields: { key: string; prefix: string }[] = [];
      for (const field of listFields(spec.schema)) {
        if (field.kind !== "number") continue;
        found.paths.add(`${section}.${field.key}`);
        fields.push({ key: field.key, prefix: `\n      ${JSON.stringify(field.key)}: ` });
        if (field.legacyKey !== null) found.legacyKeys.add(field.legacyKey);
      }
      if (fields.length > 0)
        found.sections.push({ name: section, header: `\n    ${JSON.stringify(section)}: {`, fields });
    }
    floatFields.set(kind, found);
  }
  return found;
}

/**
 * payload.json text (`{ kind, config }`), floats as floats. The same bytes as `stringifyWithFloats`
 * over the document (a property test holds them equal), made from the plain two-space JSON by
 * finding each float field whose value is integral (`      "probeScale": 4`) in its section, in
 * field order, so that the text is read about once: a study renders one per job.
 */
export function payloadJson(kind: AnyPayload["kind"], document: unknown): string {
  const text = JSON.stringify(document, null, 2);
  const config = (document as { config?: Readonly<Record<string, Readonly<Record<string, unknown>>>> })
    .config;
  const cuts: number[] = [];
  for (const section of floatsOf(kind).sections) {
    const values = config?.[section.name];
    if (values === undefined || values === null) continue;
    let start = -2;
    let end = -1;
    let from = -1;
    for (const { key, prefix } of section.fields) {
      const value = values[key];
      // Integral and below 1e21: written as plain digits, to be given their decimal point.
      if (typeof value !== "number" || !Number.isInteger(value) || Math.abs(value) >= 1e21) continue;
      if (start === -2) {
        start = text.indexOf(section.header);
        // The section's closing brace: members nested deeper close with more indentation.
        end = start === -1 ? -1 : text.indexOf("\n    }", start);
        from = start;
      }
      if (start === -1) break;
      const needle = prefix + String(value);
      let at = text.indexOf(needle, from);
      if (at === -1 || at > end) at = text.indexOf(needle, start);
      const cut = at + needle.length;
      if (at !== -1 && at < end && (text[cut] === "," || text[cut] === "\n")) {
        cuts.push(cut);
        from = cut;
      }
    }
  }
  if (cuts.length === 0) return `${text}\n`;
  cuts.sort((a, b) => a - b);
  let out = "";
  let last = 0;
  for (const cut of cuts) {
    out += `${text.slice(last, cut)}.0`;
    last = cut;
  }
  return `${out}${text.slice(last)}\n`;
}

/** legacy-params.json text, floats as floats. */
export function legacyJson(kind: AnyPayload["kind"], legacy: unknown): string {
  const { legacyKeys } = floatsOf(kind);
  return `${stringifyWithFloats(legacy, (p) => p.length === 1 && legacyKeys.has(p[0]!))}\n`;
}
