// `hparams.yaml`: the run's settings as block-style YAML that PyYAML reads back unchanged.

const YAML_RESERVED = /^(?:true|false|yes|no|on|off|null|~)$/i;

function yamlString(text: string): string {
  const plain = /^[A-Za-z_][A-Za-z0-9_./-]*(?: [A-Za-z0-9_./-]+)*$/.test(text) && !YAML_RESERVED.test(text);
  return plain ? text : JSON.stringify(text);
}

/** A number PyYAML (YAML 1.1) reads back as the same number: floats keep a dot before the exponent. */
function yamlNumber(value: number): string {
  if (Number.isNaN(value)) return ".nan";
  if (value === Number.POSITIVE_INFINITY) return ".inf";
  if (value === Number.NEGATIVE_INFINITY) return "-.inf";
  const s = String(value);
  const e = s.indexOf("e");
  if (e === -1) return s;
  const mantissa = s.slice(0, e);
  const exponent = s.slice(e + 1); // JavaScript always writes the sign: "e-7", "e+21"
  return `${mantissa.includes(".") ? mantissa : `${mantissa}.0`}e${exponent}`;
}

function yamlScalar(value: unknown): string | null {
  if (value === null) return "null";
  if (typeof value === "boolean") return String(value);
  if (typeof value === "number") return yamlNumber(value);
  if (typeof value === "bigint") return String(value);
  if (typeof value === "string") return yamlString(value);
  return null;
}

function yamlBlock(value: unknown, indent: string): string[] {
  if (Array.isArray(value)) {
    return value.flatMap((item) => {
      const scalar = yamlScalar(item ?? null);
      if (scalar !== null) return [`${indent}- ${scalar}`];
      if (isEmpty(item)) return [`${indent}- ${Array.isArray(item) ? "[]" : "{}"}`];
      const inner = yamlBlock(item, `${indent}  `);
      return [`${indent}- ${inner[0]!.trimStart()}`, ...inner.slice(1)];
    });
  }
  const lines: string[] = [];
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (item === undefined || typeof item === "function" || typeof item === "symbol") continue;
    const k = yamlString(key);
    const scalar = yamlScalar(item);
    if (scalar !== null) lines.push(`${indent}${k}: ${scalar}`);
    else if (isEmpty(item)) lines.push(`${indent}${k}: ${Array.isArray(item) ? "[]" : "{}"}`);
    else lines.push(`${indent}${k}:`, ...yamlBlock(item, Array.isArray(item) ? indent : `${indent}  `));
  }
  return lines;
}

function isEmpty(value: unknown): boolean {
  return Array.isArray(value)
    ? value.length === 0
    : typeof value === "object" && value !== null && Object.keys(value).length === 0;
}

/** Block-style YAML of a JSON-like object (as PyYAML's `safe_dump` lays it out); `{}` when empty. */
export function toYaml(value: Readonly<Record<string, unknown>>): string {
  const lines = yamlBlock(value, "");
  return lines.length === 0 ? "{}\n" : `${lines.join("\n")}\n`;
}
