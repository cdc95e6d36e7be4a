// A parser for the Python literals numpy writes in `.npy` headers: dicts with string keys, tuples,
// lists, strings, integers, True/False/None. Nothing is evaluated; anything else is a syntax error.

export type PyValue = string | bigint | boolean | null | readonly PyValue[] | ReadonlyMap<string, PyValue>;

export class PyLiteralError extends Error {
  override readonly name = "PyLiteralError";
}

const MAX_DEPTH = 32;

interface Cursor {
  readonly text: string;
  pos: number;
}

function fail(c: Cursor, what: string): never {
  throw new PyLiteralError(`${what} at character ${c.pos}`);
}

function skipSpace(c: Cursor): void {
  while (c.pos < c.text.length && /\s/.test(c.text[c.pos]!)) c.pos++;
}

const ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\",
  "'": "'",
  '"': '"',
  n: "\n",
  r: "\r",
  t: "\t",
  "0": "\0",
};

function parseString(c: Cursor): string {
  const quote = c.text[c.pos];
  c.pos++;
  let out = "";
  while (c.pos < c.text.length) {
    const ch = c.text[c.pos]!;
    if (ch === quote) {
      c.pos++;
      return out;
    }
    if (ch === "\\") {
      const next = c.text[c.pos + 1] ?? "";
      const simple = ESCAPES[next];
      if (simple !== undefined) {
        out += simple;
        c.pos += 2;
        continue;
      }
      const width = next === "x" ? 2 : next === "u" ? 4 : next === "U" ? 8 : 0;
      const hex = c.text.slice(c.pos + 2, c.pos + 2 + width);
      if (width === 0 || !/^[0-9a-fA-F]+$/.test(hex) || hex.length !== width) fail(c, "bad escape");
      const code = Number.parseInt(hex, 16);
      if (code > 0x10ffff) fail(c, "bad escape");
      out += String.fromCodePoint(code);
      c.pos += 2 + width;
      continue;
    }
    if (ch === "\n") fail(c, "unterminated string");
    out += ch;
    c.pos++;
  }
  return fail(c, "unterminated string");
}

function parseSequence(c: Cursor, close: string, depth: number): PyValue[] {
  c.pos++;
  const items: PyValue[] = [];
  for (;;) {
    skipSpace(c);
    if (c.text[c.pos] === close) {
      c.pos++;
      return items;
    }
    items.push(parseValue(c, depth + 1));
    skipSpace(c);
    const sep = c.text[c.pos];
    if (sep === ",") c.pos++;
    else if (sep !== close) fail(c, `expected "," or "${close}"`);
  }
}

function parseDict(c: Cursor, depth: number): Map<string, PyValue> {
  c.pos++;
  const out = new Map<string, PyValue>();
  for (;;) {
    skipSpace(c);
    if (c.text[c.pos] === "}") {
      c.pos++;
      return out;
    }
    const key = parseValue(c, depth + 1);
    if (typeof key !== "string") fail(c, "dictionary keys must be strings");
    skipSpace(c);
    if (c.text[c.pos] !== ":") fail(c, 'expected ":"');
    c.pos++;
    out.set(key, parseValue(c, depth + 1));
    skipSpace(c);
    const sep = c.text[c.pos];
    if (sep === ",") c.pos++;
    else if (sep !== "}") fail(c, 'expected "," or "}"');
  }
}

function parseValue(c: Cursor, depth: number): PyValue {
  if (depth > MAX_DEPTH) fail(c, "nesting too deep");
  skipSpace(c);
  const ch = c.text[c.pos];
  if (ch === "{") return parseDict(c, depth);
  if (ch === "[") return parseSequence(c, "]", depth);
  if (ch === "(") {
    const start = c.pos;
    const items = parseSequence(c, ")", depth);
    // `(3)` is the integer 3 in Python; only `(3,)` is a one-element tuple.
    const inner = c.text.slice(start + 1, c.pos - 1).trim();
    if (items.length === 1 && !inner.endsWith(",")) return items[0]!;
    return items;
  }
  if (ch === "'" || ch === '"') return parseString(c);
  const rest = c.text.slice(c.pos);
  const int = /^[-+]?\d+[lL]?/.exec(rest);
  if (int) {
    c.pos += int[0].length;
    if (/^[.eEjJ]/.test(c.text.slice(c.pos))) fail(c, "only integers are allowed");
    return BigInt(int[0].replace(/[lL]$/, ""));
  }
  const word = /^[A-Za-z_]\w*/.exec(rest);
  if (word) {
    c.pos += word[0].length;
    if (word[0] === "True") return true;
    if (word[0] === "False") return false;
    if (word[0] === "None") return null;
    fail(c, `unexpected name ${word[0]}`);
  }
  return fail(c, ch === undefined ? "unexpected end" : `unexpected ${JSON.stringify(ch)}`);
}

/** Parses one Python literal; throws `PyLiteralError` on anything else. */
export function parsePyLiteral(text: string): PyValue {
  const c: Cursor = { text, pos: 0 };
  const value = parseValue(c, 0);
  skipSpace(c);
  if (c.pos !== text.length) fail(c, "unexpected text after the value");
  return value;
}
