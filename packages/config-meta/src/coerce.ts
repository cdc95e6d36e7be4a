import type { FieldInfo } from "./introspect.ts";

export type CoerceResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly message: string };

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const TRUE = new Set(["true", "1", "yes"]);
const FALSE = new Set(["false", "0", "no"]);
const NULL = new Set(["null", "None"]);

function parseNumber(raw: string, integer: boolean): CoerceResult {
  const text = raw.trim();
  if (!NUMBER.test(text))
    return { ok: false, message: integer ? "must be an integer" : "must be a finite number" };
  const value = Number(text);
  if (!Number.isFinite(value)) return { ok: false, message: "must be a finite number" };
  if (integer && !Number.isInteger(value)) return { ok: false, message: "must be an integer" };
  return { ok: true, value };
}

function parseBoolean(raw: string): CoerceResult {
  const text = raw.trim().toLowerCase();
  if (TRUE.has(text)) return { ok: true, value: true };
  if (FALSE.has(text)) return { ok: true, value: false };
  return { ok: false, message: "must be true or false (or 1/0, yes/no)" };
}

/**
 * Turns the text of a command-line flag or environment variable into a value of the field's type.
 * Booleans accept only true/false/1/0/yes/no; numbers accept `1e-5` but not `NaN` or `inf`;
 * nullable fields accept `null`; lists accept `10,20` or `[10, 20]`. The result still goes through
 * the schema, which checks ranges and enums.
 */
export function coerceFieldValue(field: FieldInfo, raw: string): CoerceResult {
  if (field.nullable && NULL.has(raw.trim())) return { ok: true, value: null };
  switch (field.kind) {
    case "boolean":
      return parseBoolean(raw);
    case "integer":
      return parseNumber(raw, true);
    case "number":
      return parseNumber(raw, false);
    case "enum":
      return field.choices.every((c) => typeof c === "number")
        ? parseNumber(raw, true)
        : { ok: true, value: raw };
    case "array": {
      const body = raw
        .trim()
        .replace(/^\[|\]$/g, "")
        .trim();
      if (body === "") return { ok: true, value: [] };
      const items = body.split(",").map((part) => parseNumber(part, true));
      const bad = items.find((i) => !i.ok);
      if (bad) return { ok: false, message: "must be a comma-separated list of integers" };
      return { ok: true, value: items.map((i) => (i.ok ? i.value : undefined)) };
    }
    case "union": {
      if (field.choices.includes(raw)) return { ok: true, value: raw };
      const asBool = parseBoolean(raw);
      if (asBool.ok && field.schema.safeParse(asBool.value).success) return asBool;
      const asNumber = parseNumber(raw, false);
      if (asNumber.ok) return asNumber;
      return { ok: true, value: raw };
    }
    default:
      return { ok: true, value: raw };
  }
}
