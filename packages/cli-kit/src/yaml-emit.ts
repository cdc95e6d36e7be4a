// A YAML emitter for resolved payloads: sections of scalars and lists of scalars. Small on purpose,
// so `--print-config` does not load a YAML library. Strings that plain YAML would read as something
// else are written as JSON strings, which YAML reads back unchanged.

const PLAIN = /^[A-Za-z_/][\w./+-]*$/;
const RESERVED = /^(true|false|yes|no|on|off|null|y|n|~)$/i;

function scalar(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "number")
    return Number.isFinite(value) ? String(value) : JSON.stringify(String(value));
  if (typeof value === "boolean") return String(value);
  if (typeof value === "string")
    return PLAIN.test(value) && !RESERVED.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value);
}

/** YAML for `{ section: { key: scalar | scalar[] } }`. */
export function emitSectionsYaml(
  document: Readonly<Record<string, Readonly<Record<string, unknown>>>>,
): string {
  const lines: string[] = [];
  for (const [section, values] of Object.entries(document)) {
    if (Object.keys(values).length === 0) {
      lines.push(`${section}: {}`);
      continue;
    }
    lines.push(`${section}:`);
    for (const [key, value] of Object.entries(values)) {
      const text = Array.isArray(value) ? `[${value.map(scalar).join(", ")}]` : scalar(value);
      lines.push(`  ${key}: ${text}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
